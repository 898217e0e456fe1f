package boot

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// InitErrorType is the errorType of a failed init, as the invoker sees it.
const InitErrorType = "InvalidConfiguration"

// Fail ends a function whose init failed. It writes one line to stderr ("transfer: invalid
// configuration: TABLE_NAME is not set"), which Lambda logs, and posts the same line to the
// Runtime API's init error endpoint (AWS_LAMBDA_RUNTIME_API, through getenv), so that Lambda,
// or the emulator the local stack runs, answers the invocation with it rather than with
// "Runtime exited with error: exit status 1".
func Fail(getenv func(string) string, function string, err error) {
	line := function + ": " + err.Error()
	fmt.Fprintln(os.Stderr, line)
	if reportErr := ReportInitError(getenv("AWS_LAMBDA_RUNTIME_API"), line); reportErr != nil {
		fmt.Fprintln(os.Stderr, function+": reporting the init error:", reportErr)
	}
	os.Exit(1)
}

// ReportInitError posts message to POST /2018-06-01/runtime/init/error of the Runtime API at
// api (host:port). It does nothing when api is empty: not under Lambda.
func ReportInitError(api, message string) error {
	if api == "" {
		return nil
	}
	body, _ := json.Marshal(map[string]string{"errorMessage": message, "errorType": InitErrorType})
	req, err := http.NewRequest(http.MethodPost, "http://"+api+"/2018-06-01/runtime/init/error", strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", InitErrorType)
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the Runtime API answered %s", resp.Status)
	}
	return nil
}
