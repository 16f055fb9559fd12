package radattr_test

import (
	"fmt"

	"github.com/radgate/radgate/radattr"
)

// A client reply block's settings become wire attributes; a Selector
// built from pass_through_attributes picks attributes out of an upstream
// Accept, and Merge lets the client's own win.
func ExampleSelector() {
	filter, _ := radattr.Parse("Filter-Id", "nas-acl")
	upstream := []radattr.Attribute{
		{Type: 1, Value: []byte("alice")},                 // User-Name: not selected
		{Type: 25, Value: []byte("gold")},                 // Class
		{Type: 11, Value: []byte("upstream-acl")},         // Filter-Id: the client's wins
		{Type: 26, Value: []byte{0, 0, 1, 55, 7, 3, 'x'}}, // Microsoft VSA
		{Type: 26, Value: []byte{0, 0, 0, 9, 1, 3, 'y'}},  // Cisco VSA: not selected
	}
	sel, err := radattr.NewSelector([]string{"Class", "Filter-Id", "Vendor-Specific:311"})
	if err != nil {
		panic(err)
	}
	kept, _ := sel.Select(upstream)
	for _, a := range radattr.Merge([]radattr.Attribute{filter}, kept) {
		fmt.Println(a)
	}
	// Output:
	// Filter-Id=0x6e61732d61636c
	// Class=0x676f6c64
	// Vendor-Specific=0x00000137070378
}
