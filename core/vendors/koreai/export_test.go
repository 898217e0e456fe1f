package koreai

import (
	"time"

	"handoff/core/handoff"
)

// CallbackToken is a token as a transfer to target at `at` would put in its callback URL, for
// the black-box tests that sign callbacks.
func CallbackToken(secret, tenant, transfer string, target handoff.Target, at time.Time) string {
	return SignCallbackToken(secret, CallbackClaims{Tenant: tenant, Transfer: transfer, Target: target, Expires: at.Add(CallbackTokenLifetime)})
}
