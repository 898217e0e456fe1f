package livepersonsandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"handoff/core/vendors/sandbox"
)

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// decodeStrict reads one JSON object, refusing unknown fields and trailing data. invented: the
// strictness, so a misspelt field fails here rather than on a real account.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// lpError answers with LivePerson's error shape [C: Login Service API, Refresh]. Its texts are
// ours except where a comment cites the doc; the adapter never reads them. invented: the time
// format's use beyond the doc's example, and internalCode 0 for any status but 401.
func lpError(w http.ResponseWriter, status int, message string) {
	internal := 0
	if status == http.StatusUnauthorized {
		internal = 10 // the only internalCode the docs show [C]; the others are unknown [U]
	}
	sandbox.WriteJSON(w, status, map[string]any{"error": map[string]any{
		"time":           time.Now().UTC().Format("Jan 2, 2006 3:04:05 PM"),
		"message":        message,
		"internalCode":   internal,
		"responseStatus": strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")),
	}})
}

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
