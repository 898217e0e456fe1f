package demo

import (
	"net/http"

	"handoff/core/vendors/sandbox"
)

// CountersPath is where the local gateway serves the sandboxes' counters (GET).
const CountersPath = "/_local/sandboxes"

// DemoTenant is the tenant whose secrets point at the sandboxes.
const DemoTenant = "demo"

// Counters are what each vendor's sandbox received so far, by vendor key, as each counts it:
// what a load test compares with the transfers it made. They only grow while the stack runs;
// compare two readings.
type Counters map[string]sandbox.Counters

// Counters reads every sandbox's record.
func (s *Sandboxes) Counters() Counters {
	c := make(Counters, len(s.servers))
	for vendor, sb := range s.servers {
		c[vendor] = sb.Counters()
	}
	return c
}

// CountersHandler answers GET with Counters as JSON.
func (s *Sandboxes) CountersHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			sandbox.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET only"})
			return
		}
		sandbox.WriteJSON(w, http.StatusOK, s.Counters())
	})
}
