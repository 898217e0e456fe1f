package vendorkit

import (
	"errors"
	"strconv"
	"strings"

	"handoff/core/handoff"
)

// EachTarget runs check on a request's targets in order (the target, then each fallback) and
// returns the first error, its field renamed to that target's place in the request: check names
// "target.id", the error names "fallbacks[0].id" for the first fallback. A transfer adapter's
// Validate (vendors.Validator) uses it to refuse, before anything is written, an id its vendor
// could never take.
func EachTarget(req handoff.Request, check func(handoff.Target) error) error {
	for i, t := range req.Targets() {
		err := check(t)
		if err == nil {
			continue
		}
		var e *handoff.Error
		if i == 0 || !errors.As(err, &e) || !strings.HasPrefix(e.Field, "target.") {
			return err
		}
		renamed := *e
		renamed.Field = "fallbacks[" + strconv.Itoa(i-1) + "]." + strings.TrimPrefix(e.Field, "target.")
		return &renamed
	}
	return nil
}
