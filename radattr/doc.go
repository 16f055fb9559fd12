// Package radattr names the RADIUS reply attributes radgate can copy or
// add to an Access-Accept, and holds them in wire form.
//
// An Attribute is one type-length-value as it travels: Type and the raw
// Value (at most 253 bytes). Vendor-Specific attributes (type 26) are kept
// whole, vendor id and sub-attributes included.
//
// The dictionary is small on purpose; these are the names accepted in
// primary.pass_through_attributes and client reply blocks:
//
//	Name               Type  Value in a client reply block
//	Reply-Message       18   text
//	Class               25   text, or 0x-prefixed hex
//	Filter-Id           11   text
//	Session-Timeout     27   integer (seconds)
//	Idle-Timeout        28   integer (seconds)
//	Framed-IP-Address    8   IPv4 address
//	Framed-IP-Netmask    9   IPv4 address
//	Framed-Pool         88   text
//	Acct-Interim-Interval 85 integer (seconds)
//	Tunnel-Type         64   integer (tagged, tag 0)
//	Tunnel-Medium-Type  65   integer (tagged, tag 0)
//	Tunnel-Private-Group-Id 81 text (tag 0)
//	Vendor-Specific     26   0x-prefixed hex: vendor id (4 bytes) and sub-attributes
//
// In pass_through_attributes, "Vendor-Specific" selects every vendor
// attribute and "Vendor-Specific:N" only those of vendor id N (for example
// "Vendor-Specific:311" for Microsoft, "Vendor-Specific:9" for Cisco).
package radattr
