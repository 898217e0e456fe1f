package vendors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"handoff/core/handoff"
)

// Credentials is a vendor's typed view of its secret. Validate checks required fields and fills
// defaults; its error names the field at fault and never holds a value.
type Credentials interface {
	Validate() error
}

// LoadCredentials fetches the (tenant, vendor) secret and decodes it into creds. A secret that is
// not a JSON object of the right shape, or fails Validate, is a CONFIGURATION error naming the
// secret and the field; the secret's values never reach the error.
func LoadCredentials(ctx context.Context, s Secrets, tenant, vendor string, creds Credentials) error {
	raw, err := s.Get(ctx, tenant, vendor)
	if err != nil {
		return err
	}
	return DecodeCredentials(tenant+"/"+vendor, raw, creds)
}

// DecodeCredentials decodes a secret's JSON into creds and validates it; name identifies the
// secret in errors.
func DecodeCredentials(name string, raw []byte, creds Credentials) error {
	op := "vendors.DecodeCredentials"
	bad := func(field, reason string) error {
		msg := fmt.Sprintf("secret %s is malformed: %s", name, reason)
		return &handoff.Error{Code: handoff.CodeConfiguration, Op: op, Field: field, Message: msg}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return bad("", "it must be a JSON object")
	}
	if err := json.Unmarshal(raw, creds); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return bad(typeErr.Field, fmt.Sprintf("field %q must be a JSON %s", typeErr.Field, typeErr.Type.Kind()))
		}
		return bad("", "it is not valid JSON") // the syntax error's text could quote the value
	}
	if err := creds.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return bad(fe.Field, fmt.Sprintf("field %q %s", fe.Field, fe.Reason))
		}
		// Only a FieldError is known to hold no value; any other error's text could quote one.
		return bad("", "it does not hold valid credentials")
	}
	return nil
}

// FieldError is what Credentials.Validate returns for one bad field.
type FieldError struct {
	Field  string
	Reason string // e.g. "is required"; never the value
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q %s", e.Field, e.Reason) }

// Require returns a FieldError for the first empty value among name/value pairs, in order.
func Require(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return &FieldError{Field: pairs[i], Reason: "is required"}
		}
	}
	return nil
}

// WithCredentials loads the tenant's credentials into a new C and sends with them. When refused
// says the vendor refused them, the cached secret may be stale (rotated since it was read): it is
// dropped, read again, and send runs once more; that second answer stands, refused or not. Send
// only what a refusal of credentials proves was not acted on: the vendor refused it before acting.
func WithCredentials[C any, P interface {
	*C
	Credentials
}, R any](ctx context.Context, d Deps, tenant, vendor string, send func(P) (R, error), refused func(R) bool) (R, error) {
	for attempt := 1; ; attempt++ {
		creds := P(new(C))
		if err := LoadCredentials(ctx, d.Secrets, tenant, vendor, creds); err != nil {
			var zero R
			return zero, err
		}
		r, err := send(creds)
		if err != nil || attempt == 2 || !refused(r) {
			return r, err
		}
		if d.Log != nil {
			d.Log.WarnContext(ctx, vendor+": credentials refused; reading the secret again and sending once more", "tenant", tenant)
		}
		d.Secrets.Invalidate(tenant, vendor)
	}
}
