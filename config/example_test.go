package config_test

import (
	"fmt"

	"github.com/radgate/radgate/config"
)

func ExampleParse() {
	src := []byte(`
listen = "127.0.0.1:1812"

client "vpn" {
  address = "10.0.0.1/24"
  secret  = "example-secret"
  mode    = "fast"
}

bypass_codes {
  length = 4
}
`)
	_, err := config.Parse(src, "config.hcl")
	fmt.Println(err)
	// Output:
	// config: config.hcl:5: client "vpn": address "10.0.0.1/24" has host bits set; did you mean 10.0.0.0/24?
	// config: config.hcl:7: client "vpn": mode "fast" is not one of auto, challenge, concat
	// config: config.hcl:11: bypass_codes.length 4 is out of range 6..16
}
