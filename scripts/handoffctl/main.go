// Command handoffctl is the operator's command: it stores a tenant's vendor secret after
// checking it, shows a transfer with its timeline, re-sends an ack, and lists and replays dead
// letters. It works on a deployed stack (AWS's default credentials and region; --stack names
// the CloudFormation stack, default "handoff") or on the one `make run` runs (--local).
//
//	go run ./scripts/handoffctl [--local | --stack NAME] COMMAND …
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"handoff/scripts/handoffctl/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, ctl.ErrUsage) {
			fmt.Fprint(os.Stderr, ctl.Usage)
		}
		fmt.Fprintln(os.Stderr, "handoffctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("handoffctl", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, ctl.Usage) }
	local := fs.Bool("local", false, "the stack `make run` runs (reads "+stateFile+")")
	stack := fs.String("stack", "handoff", "the deployed CloudFormation stack")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cfg ctl.Config
	var err error
	if *local {
		cfg, err = localConfig()
	} else {
		cfg, err = stackConfig(ctx, *stack)
	}
	if err != nil {
		return err
	}
	return ctl.Run(ctx, cfg, fs.Args(), os.Stdout)
}

// stateFile is where a running local stack describes itself (scripts/localstack/state.go).
const stateFile = "build/localstack/stack.json"

// localConfig points at the local stack: its moto (through the stack's gate), its EventBridge
// and its dead-letter log, with moto's dummy credentials.
func localConfig() (ctl.Config, error) {
	path, err := findUp(stateFile)
	if err != nil {
		return ctl.Config{}, fmt.Errorf("no local stack: %s not found (start one with make run)", stateFile)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return ctl.Config{}, err
	}
	var st struct {
		AWSEndpoint, EventBridgeEndpoint, Region, Table, SecretPrefix, EventBus, DeadLetters string
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return ctl.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return ctl.Config{
		AWS: aws.Config{Region: st.Region, BaseEndpoint: aws.String(st.AWSEndpoint),
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
		Table: st.Table, SecretPrefix: st.SecretPrefix, EventBus: st.EventBus,
		EventBridgeEndpoint: st.EventBridgeEndpoint, DeadLettersFile: st.DeadLetters,
	}, nil
}

// stackConfig reads the deployed stack's outputs and parameters with the default credentials.
func stackConfig(ctx context.Context, name string) (ctl.Config, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return ctl.Config{}, err
	}
	out, err := cloudformation.NewFromConfig(awsCfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		return ctl.Config{}, fmt.Errorf("stack %s: %w", name, err)
	}
	if len(out.Stacks) != 1 {
		return ctl.Config{}, fmt.Errorf("stack %s not found", name)
	}
	s := out.Stacks[0]
	outputs, params := map[string]string{}, map[string]string{}
	for _, o := range s.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	for _, p := range s.Parameters {
		params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	cfg := ctl.Config{AWS: awsCfg, Table: outputs["TableName"], EventBus: outputs["EventBusName"],
		SecretPrefix: params["SecretPrefix"], EscalationQueueURL: outputs["EscalationDeadLetterQueueUrl"],
		AckQueueURL: outputs["AckDeadLetterQueueUrl"], SweepQueueURL: outputs["SweepDeadLetterQueueUrl"]}
	if cfg.Table == "" || cfg.SecretPrefix == "" {
		return ctl.Config{}, fmt.Errorf("stack %s has no TableName output or SecretPrefix parameter: is it Handoff's?", name)
	}
	return cfg, nil
}

// findUp looks for rel in the working directory and its parents (the repository root).
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
