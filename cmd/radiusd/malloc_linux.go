//go:build cgo

package main

/*
#include <malloc.h>
*/
import "C"

// mallocTrimThreshold is glibc's M_TRIM_THRESHOLD for radiusd. By default
// glibc hands the top of a heap back to the kernel (madvise) as soon as
// 128 KiB of it is free, and SQLite's allocations in every group commit
// crossed that line again and again: each madvise flushes the TLB of every
// core. A higher threshold keeps the memory for the next commit; SQLite's
// memory is bounded by its page caches either way.
const mallocTrimThreshold = 64 << 20

// keepFreedMemory sets mallocTrimThreshold. mallopt is glibc's; a C
// library without it fails the build here rather than at run time.
func keepFreedMemory() {
	C.mallopt(C.M_TRIM_THRESHOLD, mallocTrimThreshold)
}
