package policy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/primary"
	"github.com/radgate/radgate/radattr"
)

// Failmode says what happens when the store cannot answer.
type Failmode int

// Failmodes (policy.failmode).
const (
	FailSecure Failmode = iota // reject with store_unavailable (default)
	FailSafe                   // accept on the primary factor alone, loudly
)

// String returns the config spelling of f.
func (f Failmode) String() string {
	if f == FailSafe {
		return "safe"
	}
	return "secure"
}

// ParseFailmode maps a config spelling ("secure", "safe"; "" is secure) to
// a Failmode.
func ParseFailmode(s string) (Failmode, bool) {
	switch s {
	case "secure", "":
		return FailSecure, true
	case "safe":
		return FailSafe, true
	}
	return FailSecure, false
}

// Defaults used by DefaultConfig and, for zero fields, by NewEngine.
const (
	DefaultChallengePrompt = "Enter your verification code"
	DefaultRejectMessage   = "Authentication failed"
	DefaultConcatDelimiter = ","
	DefaultBypassLength    = codestore.DefaultCodeLength
	DefaultMaxFailures     = codestore.DefaultMaxFailures
	DefaultLockoutWindow   = 15 * time.Minute
	DefaultLockoutDuration = 15 * time.Minute
	// DefaultStoreTimeout bounds each store call of a decision, so that a
	// locked or stalled database gives a prompt store_unavailable (or a
	// failmode-safe accept) well inside a NAS's 3–5 s timeout.
	DefaultStoreTimeout = time.Second
)

// Config is the policy block of the configuration, plus the settings of
// other blocks the Engine needs.
type Config struct {
	// RequireEnrolledDevice rejects users without an enabled device
	// (no_device) and so refuses their bypass codes. DefaultConfig: true.
	RequireEnrolledDevice bool
	// Failmode applies when the store cannot answer. Default FailSecure.
	Failmode Failmode
	// ChallengePrompt is the Reply-Message of an Access-Challenge.
	// Default "Enter your verification code".
	ChallengePrompt string
	// RejectMessage is the Reply-Message of every Access-Reject, whatever
	// the reason. Default "Authentication failed".
	RejectMessage string
	// ConcatDelimiter separates password and code in concat and auto
	// modes; "" means the code is appended with no separator. It is used
	// as is: the "," default comes from DefaultConfig (and the config
	// package), since "" is a valid setting.
	ConcatDelimiter string
	// BypassLength is the number of digits of a bypass code. Default 9.
	BypassLength int
	// SecondFactorOnly is set for primary backend "none": the NAS checked
	// the password and User-Password carries the code alone.
	SecondFactorOnly bool
	// Normalization maps User-Name to the store user name. Default
	// NormalizeNone.
	Normalization Normalization
	// Lockout is passed to the store on each second-factor failure.
	// MaxFailures 0 means 10.
	Lockout codestore.LockoutRules
	// StoreTimeout bounds each store call (and the audit write) of one
	// decision; a call that overruns it is a store fault and the failmode
	// applies. Default 1s.
	StoreTimeout time.Duration
}

// DefaultConfig returns the documented defaults of DESIGN.md.
func DefaultConfig() Config {
	return Config{
		RequireEnrolledDevice: true,
		Failmode:              FailSecure,
		ChallengePrompt:       DefaultChallengePrompt,
		RejectMessage:         DefaultRejectMessage,
		ConcatDelimiter:       DefaultConcatDelimiter,
		BypassLength:          DefaultBypassLength,
		Lockout: codestore.LockoutRules{
			MaxFailures: DefaultMaxFailures,
			Window:      DefaultLockoutWindow,
			Duration:    DefaultLockoutDuration,
		},
		StoreTimeout: DefaultStoreTimeout,
	}
}

// ErrNotConfigured means the Engine lacks a store, or a primary
// authenticator while SecondFactorOnly is off; Decide cannot decide.
var ErrNotConfigured = errors.New("policy: engine not configured")

// Engine decides logins. It is safe for concurrent use; to change its
// configuration, build a new Engine.
type Engine struct {
	// Now returns the current time, for lockout expiry. Default time.Now.
	// Set it before the first Decide.
	Now func() time.Time

	cfg     Config
	store   Store
	primary primary.Authenticator
	log     hclog.Logger
	// codeLengths are the lengths a User-Password's code is split off at
	// (splitLengths).
	codeLengths []int
}

// NewEngine returns an Engine. Zero ChallengePrompt, RejectMessage,
// BypassLength, Lockout.MaxFailures and StoreTimeout take their defaults.
// primary may be nil when cfg.SecondFactorOnly is set; a nil log discards.
func NewEngine(cfg Config, store Store, primary primary.Authenticator, log hclog.Logger) *Engine {
	if cfg.ChallengePrompt == "" {
		cfg.ChallengePrompt = DefaultChallengePrompt
	}
	if cfg.RejectMessage == "" {
		cfg.RejectMessage = DefaultRejectMessage
	}
	if cfg.BypassLength <= 0 {
		cfg.BypassLength = DefaultBypassLength
	}
	if cfg.Lockout.MaxFailures <= 0 {
		cfg.Lockout.MaxFailures = DefaultMaxFailures
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if store != nil {
		store = timedStore{Store: store, timeout: cfg.StoreTimeout}
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Engine{
		Now:     time.Now,
		cfg:     cfg,
		store:   store,
		primary: primary,
		log:     log.Named("policy"),

		codeLengths: splitLengths(cfg.BypassLength),
	}
}

// Decide answers one Access-Request. A reject is a Decision, not an error:
// store faults follow the failmode and primary faults reject with
// primary_unavailable. Decide returns an error (ErrNotConfigured, with a
// Reject decision) only when the Engine was built without a store or a
// needed primary authenticator. Every decision writes one audit event; a
// failed audit write is logged and the decision kept.
func (e *Engine) Decide(ctx context.Context, req Request) (Decision, error) {
	if e == nil || e.store == nil || (e.primary == nil && !e.cfg.SecondFactorOnly) {
		return Decision{Result: Reject, Reason: ReasonStoreUnavailable, ReplyMessage: DefaultRejectMessage, UserName: req.UserName},
			ErrNotConfigured
	}
	login := req.UserName
	req.UserName = e.cfg.Normalization.Apply(login)
	log := decisionLog{l: e.log, req: &req, login: login}
	d := e.decide(ctx, req, login, log)
	if d.UserName == "" && req.Challenge != nil {
		d.UserName = req.Challenge.UserName
	}
	if d.UserName == "" {
		d.UserName = req.UserName
	}
	switch d.Result {
	case Reject:
		d.Attributes = nil
		d.ReplyMessage = e.cfg.RejectMessage
	case Challenge:
		d.ReplyMessage = e.cfg.ChallengePrompt
	default:
		d.ReplyMessage = ""
	}
	if !d.audited {
		e.audit(ctx, req, d, log)
	}
	d.audited = false
	if !e.log.IsDebug() {
		return d, nil
	}
	args := []any{"result", d.Result.String(), "reason", string(d.Reason)}
	if d.DeviceID != 0 {
		args = append(args, "device_id", d.DeviceID)
	}
	if d.CodeID != 0 {
		args = append(args, "code_id", d.CodeID)
	}
	if len(d.Attributes) > 0 {
		args = append(args, "pass_through", len(d.Attributes))
	}
	// radiusd writes the one info line per decision, with its duration;
	// this one adds the policy's view at debug level.
	log.Debug("decided", args...)
	return d, nil
}

// decide routes a request to the first-request, code-only or
// challenge-answer flow.
func (e *Engine) decide(ctx context.Context, req Request, login string, log decisionLog) Decision {
	text := req.Password
	if req.AuthType != AuthPAP {
		if !e.cfg.SecondFactorOnly || req.AuthType != AuthNone {
			log.Warn("unsupported authentication method", "auth_type", req.AuthType.String())
			return reject(ReasonUnsupportedAuth)
		}
		text = "" // backend none: no User-Password is an empty code
	}
	if req.StaleState {
		return reject(ReasonChallengeExpired)
	}
	if req.Challenge != nil {
		d := e.answer(ctx, req.Client, req.Challenge.UserName, text, log)
		if d.Result == Accept {
			d.Attributes = req.Challenge.Attributes // radiusd took them out of its table: ours alone
		}
		return d
	}
	if e.cfg.SecondFactorOnly {
		return e.codeOnly(ctx, req, text, log)
	}
	return e.first(ctx, req, text, login, log)
}

// first handles a request without challenge state: split, primary check,
// then the user checks and the second factor or a challenge.
func (e *Engine) first(ctx context.Context, req Request, text, login string, log decisionLog) Decision {
	u, found, err := e.loadUser(ctx, req.UserName)
	storeDown := err != nil
	if storeDown {
		log.Error("store unavailable", "error", err)
		if e.cfg.Failmode == FailSecure {
			return reject(ReasonStoreUnavailable)
		}
	}
	p := splitPassword(text, req.Mode, e.cfg.ConcatDelimiter, e.codeLengths)
	// The user row holds the local password hash: hand it over rather than
	// have the local backend read it again for every candidate split.
	creds := primary.Credentials{User: req.UserName, Login: login, StoredHash: u.PasswordHash, HashRead: !storeDown}
	c, res, challenge, err := e.checkPrimary(ctx, creds, text, p)
	if err != nil {
		log.Error("primary backend unavailable", "error", err)
		return reject(ReasonPrimaryUnavailable)
	}
	if !res.OK && res.Detail != "" {
		log.Debug("primary check rejected", "detail", res.Detail)
	}
	if storeDown { // FailSafe
		if !res.OK {
			return reject(ReasonBadPassword)
		}
		return e.failSafeAccept(log).withAttributes(res.Attributes)
	}
	if !found {
		return reject(ReasonUnknownUser)
	}
	if !res.OK {
		return reject(ReasonBadPassword)
	}
	d := e.secondStep(ctx, req.Client, req.UserName, c.code, challenge, log)
	if d.Result == Accept || d.Result == Challenge {
		d.Attributes = res.Attributes
	}
	return d
}

// codeOnly handles a first request with primary backend "none": text is
// the code, and an empty one asks for it (except in concat mode).
func (e *Engine) codeOnly(ctx context.Context, req Request, code string, log decisionLog) Decision {
	return e.secondStep(ctx, req.Client, req.UserName, code, code == "" && req.Mode != ModeConcat, log)
}

// answer handles the answer to a challenge: the primary check passed when
// the challenge was sent; code is the second factor.
func (e *Engine) answer(ctx context.Context, client, name, code string, log decisionLog) Decision {
	return e.secondStep(ctx, client, name, code, false, log)
}

// secondStep runs the user checks and the second factor for the named user
// in one store transaction, so that every check sees the user as the code
// is spent, and the decision is on disk when it returns. The decision's
// audit event is written in that transaction too, so that a spent use or a
// counted failure never lands without it (rule 10); when that write fails,
// Decide queues the event as it does for every other decision.
func (e *Engine) secondStep(ctx context.Context, client, name, code string, challenge bool, log decisionLog) Decision {
	var d Decision
	decided := false
	err := e.store.WithUser(ctx, name, func(tx codestore.UserTx) error {
		d = e.afterPrimary(tx, code, challenge, log).withUser(name)
		decided = true
		if err := tx.Audit(e.auditEvent(client, d)); err != nil {
			log.Error("could not write audit event with the decision, queueing it", "error", err)
			return nil
		}
		d.audited = true
		return nil
	})
	if err == nil {
		return d
	}
	if decided && d.Result == Reject && e.cfg.Failmode == FailSafe {
		// The store refused (a wrong code, a locked or disabled user)
		// before its transaction failed; failmode safe never turns a
		// refusal into an accept. The audit row failed with the
		// transaction, so Decide queues it.
		log.Error("store unavailable after it refused, rejecting", "error", err)
		d.audited = false
		return d
	}
	fault := e.storeFault(err, log)
	if decided && errors.Is(err, codestore.ErrBusy) {
		// The deadline ended the wait after the transaction ran, not the
		// transaction: its batch may still commit, with d and its audit
		// row. Say so in this decision's row, so that both can be read
		// together.
		inner := e.auditEvent(client, d)
		fault.inDoubt = "in_doubt=" + inner.Result + "/" + inner.Reason
		if inner.Detail != "" {
			fault.inDoubt += " " + inner.Detail
		}
	}
	return fault
}

// afterPrimary applies the user checks in order (unknown, disabled,
// locked, device rule), then challenges or checks the code.
func (e *Engine) afterPrimary(tx codestore.UserTx, code string, challenge bool, log decisionLog) Decision {
	u, found := tx.User()
	hasDevice := tx.HasEnabledDevice()
	switch {
	case !found:
		return reject(ReasonUnknownUser)
	case u.Disabled:
		return rejectUser(ReasonDisabled, u.Name)
	case u.IsLocked(e.Now()):
		return rejectUser(ReasonLockedOut, u.Name)
	case e.cfg.RequireEnrolledDevice && !hasDevice:
		return rejectUser(ReasonNoDevice, u.Name)
	case challenge:
		return Decision{Result: Challenge, Reason: ReasonNeedCode, UserName: u.Name}
	}
	return e.secondFactor(tx, u, hasDevice, code, log)
}

// secondFactor checks code against the user's devices, then their bypass
// codes, and counts a failure when neither accepts it. An empty code was
// never tried and counts nothing.
func (e *Engine) secondFactor(tx codestore.UserTx, u codestore.User, hasDevice bool, code string, log decisionLog) Decision {
	if code == "" {
		return rejectUser(ReasonBadCode, u.Name)
	}
	if codestore.AllDigits(code) {
		if hasDevice {
			id, ok, err := tx.VerifyDeviceCode(code)
			if err != nil {
				return e.storeFault(err, log).withUser(u.Name)
			}
			if ok {
				e.resetFailures(tx, log)
				return Decision{Result: Accept, Reason: ReasonDeviceCode, UserName: u.Name, DeviceID: id}
			}
		}
		// Rule 3: a bypass code is a backup, never the only factor.
		if hasDevice || !e.cfg.RequireEnrolledDevice {
			id, ok, err := tx.ConsumeBypassCode(code)
			if err != nil {
				return e.storeFault(err, log).withUser(u.Name)
			}
			if ok {
				e.resetFailures(tx, log)
				return Decision{Result: Accept, Reason: ReasonBypassCode, UserName: u.Name, CodeID: id}
			}
		}
	}
	locked, err := tx.RecordFailure(e.cfg.Lockout)
	if err != nil {
		log.Error("store unavailable: could not record second-factor failure", "error", err)
		if e.cfg.Failmode == FailSecure {
			return rejectUser(ReasonStoreUnavailable, u.Name)
		}
		// The store did answer that the code is wrong; failmode safe never
		// accepts a code the store refused.
		return rejectUser(ReasonBadCode, u.Name)
	}
	if locked {
		log.Warn("user locked out after repeated second-factor failures")
		return rejectUser(ReasonLockedOut, u.Name)
	}
	return rejectUser(ReasonBadCode, u.Name)
}

// resetFailures clears the failure count after a success. A failure is
// logged and the accept kept: the code is already spent.
func (e *Engine) resetFailures(tx codestore.UserTx, log decisionLog) {
	if err := tx.ResetFailures(); err != nil {
		log.Error("could not reset failure count", "error", err)
	}
}

// storeFault applies the failmode to a store error met after the primary
// factor passed (or, with backend none, was checked by the NAS).
func (e *Engine) storeFault(err error, log decisionLog) Decision {
	log.Error("store unavailable", "error", err)
	if e.cfg.Failmode == FailSecure {
		return reject(ReasonStoreUnavailable)
	}
	return e.failSafeAccept(log)
}

// failSafeAccept accepts on the primary factor alone, loudly.
func (e *Engine) failSafeAccept(log decisionLog) Decision {
	log.Error("FAILMODE SAFE: store unavailable, accepting on the primary factor alone without a second factor")
	return Decision{Result: Accept, Reason: ReasonFailmodeSafe}
}

// checkPrimary runs the primary check once per candidate of p, in order,
// and then on the whole text when p allows a challenge. It returns the
// candidate that passed and the backend's result, or challenge=true when
// the whole text did.
func (e *Engine) checkPrimary(ctx context.Context, creds primary.Credentials, text string, p plan) (c candidate, res primary.Result, challenge bool, err error) {
	for _, c := range p.candidates {
		creds.Password = c.password
		res, err := e.primaryCheck(ctx, creds)
		if err != nil || res.OK {
			return c, res, false, err
		}
	}
	if p.challenge {
		creds.Password = text
		res, err := e.primaryCheck(ctx, creds)
		return candidate{password: text}, res, res.OK, err
	}
	return candidate{}, primary.Result{}, false, nil
}

// primaryCheck asks the primary backend; an empty password never passes
// and is not sent (an empty LDAP bind is an anonymous bind).
func (e *Engine) primaryCheck(ctx context.Context, creds primary.Credentials) (primary.Result, error) {
	if creds.Password == "" {
		return primary.Result{Detail: primary.DetailEmptyPassword}, nil
	}
	res, err := e.primary.Authenticate(ctx, creds)
	if err != nil {
		return primary.Result{}, fmt.Errorf("policy: primary check: %w", err)
	}
	return res, nil
}

// loadUser returns the user. found is false for an unknown user; err is a
// store fault.
func (e *Engine) loadUser(ctx context.Context, name string) (u codestore.User, found bool, err error) {
	u, err = e.store.UserByName(ctx, name)
	if errors.Is(err, codestore.ErrNotFound) {
		return codestore.User{}, false, nil
	}
	if err != nil {
		return codestore.User{}, false, fmt.Errorf("policy: load user: %w", err)
	}
	return u, true, nil
}

// splitLengths are the lengths a User-Password's code is split off at:
// every length a device code may have and the bypass length, the same for
// every user. Were they a user's own devices' digits, the primary checks
// a text costs would tell a user with 8-digit tokens from an unknown one
// (DESIGN.md: an unknown user costs the same time as a wrong password). A
// code of a length none of the user's devices has is a wrong code.
func splitLengths(bypassLength int) []int {
	lengths := []int{bypassLength}
	for n := codestore.MinDeviceDigits; n <= codestore.MaxDeviceDigits; n++ {
		lengths = append(lengths, n)
	}
	return sortedLengths(lengths)
}

// audit queues the decision's audit event. It outlives ctx (bounded by
// StoreTimeout) so that a consumed code is recorded even when the request
// is cancelled; a failure is logged and the decision kept.
func (e *Engine) audit(ctx context.Context, req Request, d Decision, log decisionLog) {
	ev := e.auditEvent(req.Client, d)
	if err := e.store.Audit(context.WithoutCancel(ctx), ev); err != nil {
		log.Error("could not write audit event", "error", err, "result", ev.Result, "reason", ev.Reason)
	}
}

// auditEvent is the audit event of decision d for a request from client.
func (e *Engine) auditEvent(client string, d Decision) codestore.AuditEvent {
	ev := codestore.AuditEvent{
		Time:   e.Now(),
		Actor:  "client:" + client,
		Action: "auth",
		User:   d.UserName,
		Client: client,
		Result: d.Result.String(),
		Reason: string(d.Reason),
	}
	switch {
	case d.inDoubt != "":
		ev.Detail = d.inDoubt
	case d.DeviceID != 0:
		ev.Detail = "device=" + strconv.FormatInt(d.DeviceID, 10)
	case d.CodeID != 0:
		ev.Detail = "code=" + strconv.FormatInt(d.CodeID, 10)
	}
	return ev
}

// reject is a Reject decision for reason.
func reject(reason Reason) Decision {
	return Decision{Result: Reject, Reason: reason}
}

// rejectUser is a Reject decision for reason about user.
func rejectUser(reason Reason, user string) Decision {
	return Decision{Result: Reject, Reason: reason, UserName: user}
}

// withAttributes returns d with Attributes set.
func (d Decision) withAttributes(attrs []radattr.Attribute) Decision {
	d.Attributes = attrs
	return d
}

// withUser returns d with UserName set.
func (d Decision) withUser(user string) Decision {
	d.UserName = user
	return d
}
