package primary_test

import (
	"fmt"
	"strings"

	"github.com/radgate/radgate/primary"
)

// HashPassword makes the PHC string radiusctl stores for a user;
// VerifyPassword checks a password against it.
func ExampleHashPassword() {
	hash, err := primary.HashPassword("correct horse", primary.DefaultArgon2)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$"))
	ok, _ := primary.VerifyPassword(hash, "correct horse")
	fmt.Println(ok)
	ok, _ = primary.VerifyPassword(hash, "wrong horse")
	fmt.Println(ok)
	// Output:
	// true
	// true
	// false
}
