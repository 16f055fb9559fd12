package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error that reports problems in
// a configuration, as opposed to a config file that could not be read.
var ErrInvalid = errors.New("config: invalid configuration")

// ErrNoCertificates is wrapped by the problem of an ldap.ca_file that holds
// no PEM certificate.
var ErrNoCertificates = errors.New("config: no PEM certificate found")

// Problem is one thing wrong with a configuration, located in its file.
type Problem struct {
	// File is the config file name as given to Load or Parse; "" when the
	// configuration did not come from a file.
	File string
	// Line is the 1-based line the problem is on; 0 when unknown.
	Line int
	// Message says what is wrong. It never contains a secret.
	Message string
	// Err is the underlying error, if any (for example a secret_file that
	// could not be read).
	Err error
}

// String returns the problem as "file:line: message", leaving out the parts
// that are unknown.
func (p Problem) String() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	case p.File != "":
		return p.File + ": " + p.Message
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return p.Message
}

// Error lists every problem found in a configuration. Its message has one
// line per problem, each starting with "config: ".
type Error struct {
	Problems []Problem
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("config: ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrInvalid followed by the underlying error of each
// problem that has one, so errors.Is and errors.As see them.
func (e *Error) Unwrap() []error {
	errs := []error{ErrInvalid}
	for _, p := range e.Problems {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}
