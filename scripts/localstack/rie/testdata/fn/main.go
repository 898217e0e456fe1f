// Command fn is the Lambda function the rie tests run: its event says what to do.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// event is one instruction; the zero event echoes.
type event struct {
	Echo    any    `json:"echo"`
	Fail    string `json:"fail"`
	Crash   bool   `json:"crash"`
	Hang    bool   `json:"hang"`
	PIDFile string `json:"pidFile"` // written before anything else
	Barrier string `json:"barrier"` // a directory every process joins before answering
	Count   int    `json:"count"`   // how many processes the barrier waits for
	Spawn   bool   `json:"spawn"`   // start a long sleep in the background, answer its PID
	Env     string `json:"env"`     // answer this environment variable
	Context bool   `json:"context"` // answer the invocation's Lambda context
	Print   string `json:"print"`   // write this to stdout
	Environ bool   `json:"environ"` // answer the whole environment, sorted
}

func handle(ctx context.Context, e event) (any, error) {
	if e.PIDFile != "" {
		os.WriteFile(e.PIDFile, []byte(fmt.Sprint(os.Getpid())), 0o600)
	}
	if e.Print != "" {
		fmt.Print(e.Print)
	}
	switch {
	case e.Fail != "":
		return nil, errors.New(e.Fail)
	case e.Crash:
		os.Exit(3)
	case e.Hang:
		select {}
	case e.Barrier != "":
		return joinBarrier(e.Barrier, e.Count)
	case e.Spawn:
		cmd := exec.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return cmd.Process.Pid, nil
	case e.Env != "":
		return os.Getenv(e.Env), nil
	case e.Environ:
		env := os.Environ()
		sort.Strings(env)
		return env, nil
	case e.Context:
		lc, _ := lambdacontext.FromContext(ctx)
		deadline, _ := ctx.Deadline()
		return map[string]any{"requestId": lc.AwsRequestID, "arn": lc.InvokedFunctionArn, "deadlineIn": time.Until(deadline).Seconds()}, nil
	}
	return e.Echo, nil
}

// joinBarrier marks this process in dir and waits until count processes have, then answers
// this process's PID and Runtime API address.
func joinBarrier(dir string, count int) (string, error) {
	me := fmt.Sprint(os.Getpid())
	if err := os.WriteFile(filepath.Join(dir, me), nil, 0o600); err != nil {
		return "", err
	}
	for {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", err
		}
		if len(entries) >= count {
			return strings.Join([]string{me, os.Getenv("AWS_LAMBDA_RUNTIME_API")}, " "), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func main() {
	if msg := os.Getenv("FAIL_INIT"); msg != "" {
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"errorMessage":"`+msg+`","errorType":"ConfigError"}`))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "ConfigError")
		http.DefaultClient.Do(req)
		os.Exit(1)
	}
	lambda.Start(handle)
}
