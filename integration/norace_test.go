//go:build !race

package integration

// raceBuild makes the binaries under test race-enabled when the tests are.
const raceBuild = false
