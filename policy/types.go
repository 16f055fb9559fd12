package policy

import (
	"net/netip"

	"github.com/radgate/radgate/radattr"
)

// Mode is how a client sends the second factor.
type Mode int

// Modes, per client block (DESIGN.md "Modes").
const (
	ModeAuto      Mode = iota // concat when the tail is a valid code, else challenge
	ModeChallenge             // password first, then Access-Challenge for the code
	ModeConcat                // password<delimiter>code in one request
)

// String returns the config spelling of m.
func (m Mode) String() string {
	switch m {
	case ModeChallenge:
		return "challenge"
	case ModeConcat:
		return "concat"
	default:
		return "auto"
	}
}

// ParseMode maps a config spelling to a Mode.
func ParseMode(s string) (Mode, bool) {
	switch s {
	case "auto", "":
		return ModeAuto, true
	case "challenge":
		return ModeChallenge, true
	case "concat":
		return ModeConcat, true
	}
	return ModeAuto, false
}

// AuthType is the authentication method a request carries.
type AuthType int

// Authentication methods. Only PAP is accepted for logins.
const (
	AuthPAP    AuthType = iota // User-Password
	AuthNone                   // no credential attribute at all
	AuthCHAP                   // CHAP-Password
	AuthMSCHAP                 // MS-CHAP / MS-CHAPv2 vendor attributes
	AuthEAP                    // EAP-Message
)

// String returns a short protocol name for logs.
func (a AuthType) String() string {
	switch a {
	case AuthPAP:
		return "pap"
	case AuthCHAP:
		return "chap"
	case AuthMSCHAP:
		return "mschap"
	case AuthEAP:
		return "eap"
	default:
		return "none"
	}
}

// Request is one Access-Request as policy sees it. radiusd fills it from
// the packet, the client table and its challenge-state table.
type Request struct {
	Client     string     // client block name
	ClientAddr netip.Addr // source address, for the log
	Mode       Mode
	UserName   string
	// Password is the decoded User-Password. In a challenge answer it
	// carries the code alone.
	Password string
	AuthType AuthType
	// Challenge is set when the request answers a valid, unexpired
	// challenge issued to this client and user; the primary check already
	// passed and Password holds the code.
	Challenge *ChallengeState
	// StaleState is set when the request carried a State that is unknown,
	// expired, already used or bound to another client or user.
	StaleState bool
}

// ChallengeState is what radiusd remembers between an Access-Challenge and
// its answer. radiusd keys it by the random State it sent.
type ChallengeState struct {
	UserName string // the user name the challenge was issued for
	// Attributes are the pass-through attributes of the primary check
	// (Decision.Attributes of the challenge), for the final Accept.
	Attributes []radattr.Attribute
}

// Result is the kind of answer the NAS gets.
type Result int

// Results.
const (
	Reject Result = iota
	Accept
	Challenge
)

// String returns the lowercase result name used in logs and the audit log.
func (r Result) String() string {
	switch r {
	case Accept:
		return "accept"
	case Challenge:
		return "challenge"
	default:
		return "reject"
	}
}

// Reason says why a decision was made. Reject reasons are logged and
// audited, never sent to the NAS.
type Reason string

// Reasons (DESIGN.md "Rejections"), plus the accept and challenge reasons.
const (
	ReasonUnknownClient      Reason = "unknown_client"
	ReasonUnknownUser        Reason = "unknown_user"
	ReasonBadPassword        Reason = "bad_password"
	ReasonDisabled           Reason = "disabled"
	ReasonNoDevice           Reason = "no_device"
	ReasonBadCode            Reason = "bad_code"
	ReasonLockedOut          Reason = "locked_out"
	ReasonChallengeExpired   Reason = "challenge_expired"
	ReasonUnsupportedAuth    Reason = "unsupported_auth"
	ReasonStoreUnavailable   Reason = "store_unavailable"
	ReasonPrimaryUnavailable Reason = "primary_unavailable"

	ReasonDeviceCode   Reason = "device_code"   // accepted with a TOTP/HOTP code
	ReasonBypassCode   Reason = "bypass_code"   // accepted with a bypass code
	ReasonFailmodeSafe Reason = "failmode_safe" // store down, primary alone
	ReasonNeedCode     Reason = "need_code"     // challenge sent
)

// Decision is policy's answer to one Request.
type Decision struct {
	Result Result
	Reason Reason
	// ReplyMessage is the text for the NAS: generic on reject, the
	// challenge prompt on challenge, empty on accept.
	ReplyMessage string
	// UserName is the user the decision is about, for binding challenge
	// state and for logs.
	UserName string
	DeviceID int64 // accepting device, 0 if none
	CodeID   int64 // consumed bypass code, 0 if none
	// Attributes are reply attributes the primary backend passed through
	// (primary.pass_through_attributes), set on Accept and on Challenge
	// (radiusd keeps them in the challenge state); nil on Reject.
	Attributes []radattr.Attribute

	// audited: the audit event was written with the decision's store
	// transaction, so Decide does not queue it. Always false once Decide
	// returns.
	audited bool
	// inDoubt is the audit detail of a store fault that came after the
	// decision's transaction ran: that decision may still commit.
	inDoubt string
}
