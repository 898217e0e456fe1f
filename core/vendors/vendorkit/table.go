package vendorkit

import (
	"strconv"
	"strings"

	"handoff/core/handoff"
)

// Row is what one kind of vendor answer means to Handoff: one row type for every vendor's table.
type Row struct {
	// Status is the HTTP status the vendor documents with an error code (a row keyed by a code);
	// zero when the row is keyed by the status itself or the vendor documents none.
	Status int
	Code   handoff.Code
	// Retryable marks an answer the vendor gave before acting (a rate limit, a refusal of the
	// request's form or credentials), so the same request may be sent again without doing the
	// thing twice. Whether the adapter re-sends, and when, is its vendor's policy.
	Retryable bool
	// AlreadyDone marks an answer that, when reconciling an attempt that may already have
	// reached the vendor, means that attempt did the job (it counts as success then only).
	AlreadyDone bool
	// Name is reported as the VendorCode when the vendor's answer carries no code of its own
	// (a row keyed by a status: Salesforce's schema names).
	Name string
	// Field is the request field at fault, when the answer is about one.
	Field string
	// Message is ours, safe to show; the vendor's own text never reaches an error.
	Message string
}

// Table is a vendor's error table. A key is a vendor error code (matched ignoring case: vendors
// mix QUERY_LIMIT_EXCEEDED and expired_token), an HTTP status ("429") or a status class ("4xx",
// "5xx"). Classify tries them in that order, so a row for a code or a status overrides its class.
type Table map[string]Row

// Classify returns the row for an answer and the key that matched: the table's own spelling of
// the vendor's code, or the status or class. An answer that no key matches is not one the
// vendor's API gives: VENDOR_BAD_RESPONSE, with an empty key.
func (t Table) Classify(status int, vendorCode string) (string, Row) {
	if key, row, ok := t.Lookup(vendorCode); ok {
		return key, row
	}
	if status >= 100 && status <= 999 {
		s := strconv.Itoa(status)
		if row, ok := t[s]; ok {
			return s, row
		}
		if row, ok := t[s[:1]+"xx"]; ok {
			return s[:1] + "xx", row
		}
	}
	return "", Row{Code: handoff.CodeVendorProtocol}
}

// Lookup finds a vendor code's row, ignoring case, and returns the table's spelling of it. Keys
// that are statuses or classes are never a vendor code's: a body cannot choose its own status.
func (t Table) Lookup(vendorCode string) (string, Row, bool) {
	if vendorCode == "" || isStatusKey(vendorCode) {
		return vendorCode, Row{}, false
	}
	if row, ok := t[vendorCode]; ok {
		return vendorCode, row, true
	}
	for key, row := range t {
		if strings.EqualFold(key, vendorCode) && !isStatusKey(key) {
			return key, row, true
		}
	}
	return vendorCode, Row{}, false
}

// isStatusKey reports a key of three characters, a digit then digits or "xx".
func isStatusKey(k string) bool {
	if len(k) != 3 || k[0] < '1' || k[0] > '9' {
		return false
	}
	if strings.EqualFold(k[1:], "xx") {
		return true
	}
	return k[1] >= '0' && k[1] <= '9' && k[2] >= '0' && k[2] <= '9'
}

// CleanCode keeps a vendor's error code only when it looks like one: 1 to maxLen ASCII letters,
// digits and the punctuation given. Anything else (a sentence, markup, a quoted value) is no
// code, so an answer cannot smuggle its text, or a credential it echoes, into our errors and
// logs through it.
func CleanCode(code string, maxLen int, punct string) string {
	if code == "" || len(code) > maxLen {
		return ""
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || strings.IndexByte(punct, c) >= 0) {
			return ""
		}
	}
	return code
}
