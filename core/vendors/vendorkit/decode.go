package vendorkit

import (
	"encoding/json"
	"errors"
	"io"
)

// DecodeStrict reads exactly one JSON value from r into v, refusing unknown fields and anything
// after the value: what a strict API (and every sandbox standing in for one) does, so a
// misspelt field fails at once rather than on a real account.
func DecodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
