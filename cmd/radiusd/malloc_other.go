//go:build !linux || !cgo

package main

// keepFreedMemory does nothing off Linux (glibc) or without cgo.
func keepFreedMemory() {}
