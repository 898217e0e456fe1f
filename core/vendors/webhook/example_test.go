package webhook_test

import (
	"io"
	"net/http"
	"time"

	"handoff/core/vendors/webhook"
)

// A bot's receiver checks each ack before trusting it, then drops repeats by webhook-id.
func ExampleVerify() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // the signingSecret given to Handoff
	http.HandleFunc("POST /handoff/acks", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header, body, time.Now()); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// body is the transfer resource; r.Header.Get(webhook.HeaderID) identifies this ack.
		w.WriteHeader(http.StatusNoContent)
	})
}
