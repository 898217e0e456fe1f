// Command broken is the stack test's function whose init fails: its resource does not declare
// the GREETING it needs, so it reports an init error through the Runtime API, as the Handoff
// functions do (functions/internal/boot.Fail), and exits.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	if os.Getenv("GREETING") == "" {
		line := "broken: invalid configuration: GREETING is not set"
		fmt.Fprintln(os.Stderr, line)
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		http.Post(url, "application/json", strings.NewReader(`{"errorType":"InvalidConfiguration","errorMessage":"`+line+`"}`))
		os.Exit(1)
	}
	lambda.Start(func() (string, error) { return os.Getenv("GREETING"), nil })
}
