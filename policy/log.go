package policy

import (
	"github.com/hashicorp/go-hclog"

	"github.com/radgate/radgate/radattr"
)

// decisionLog is the logger of one decision. It adds the request's fields
// (client, address, user, mode, and the login name when normalization
// changed it) to each line it writes, and builds them only then: a
// decision that logs nothing allocates nothing for logging. The user and
// login are what the NAS sent, so they pass through radattr.Printable: a
// User-Name holding a newline cannot split a line or forge another.
type decisionLog struct {
	l     hclog.Logger
	req   *Request
	login string
}

func (d decisionLog) Error(msg string, args ...any) {
	if d.l.IsError() {
		d.l.Error(msg, d.with(args)...)
	}
}

func (d decisionLog) Warn(msg string, args ...any) {
	if d.l.IsWarn() {
		d.l.Warn(msg, d.with(args)...)
	}
}

func (d decisionLog) Debug(msg string, args ...any) {
	if d.l.IsDebug() {
		d.l.Debug(msg, d.with(args)...)
	}
}

// with returns the request's fields followed by args.
func (d decisionLog) with(args []any) []any {
	r := d.req
	out := append(make([]any, 0, 10+len(args)),
		"client", r.Client, "client_addr", r.ClientAddr.String(), "user", radattr.Printable(r.UserName), "mode", r.Mode.String())
	if d.login != r.UserName {
		out = append(out, "login", radattr.Printable(d.login))
	}
	return append(out, args...)
}
