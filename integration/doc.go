// Package integration holds radgate's end-to-end tests. They build the real
// radiusd and radiusctl binaries, start radiusd on a free loopback port with
// a SQLite store in a temporary directory, administer it with radiusctl,
// and log in over real UDP, with a RADIUS client written here from the RFCs
// and with FreeRADIUS's radclient.
package integration
