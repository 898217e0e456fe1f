// Command access is the operator's command for tenants' access records: it writes (put), reads
// (get) and removes (delete) the record of a tenant in Handoff's table. The functions only read
// records; nothing but an operator writes them.
//
//	go run ./scripts/access -table handoff-Table put record.json   # or - for standard input
//	go run ./scripts/access -table handoff-Table get acme
//	go run ./scripts/access -table handoff-Table delete acme
//
// It uses the AWS SDK's usual settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL…); -table
// defaults to TABLE_NAME. A record is the JSON of docs/tenant-access.md; put refuses one that
// does not validate or holds unknown fields.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"handoff/core/handoff"
	"handoff/core/store"
)

func main() {
	if err := Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "access:", err)
		os.Exit(1)
	}
}

// Main runs one command; tests call it with their own arguments, input and environment.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("access", flag.ContinueOnError)
	table := fs.String("table", getenv("TABLE_NAME"), "Handoff's table (default $TABLE_NAME)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *table == "" || fs.NArg() != 2 {
		return errors.New("usage: access [-table NAME] put FILE|- | get TENANT | delete TENANT")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(cfg)
	st := store.New(db, *table)
	verb, arg := fs.Arg(0), fs.Arg(1)
	switch verb {
	case "put":
		a, err := readRecord(arg, stdin)
		if err != nil {
			return err
		}
		if err := st.PutAccess(ctx, a); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "access record of %s written: %d principals, %d event sources\n", a.Tenant, len(a.Principals), len(a.EventSources))
		return nil
	case "get":
		a, err := st.GetAccess(ctx, arg)
		if err != nil {
			return err
		}
		out, _ := json.MarshalIndent(a, "", "  ")
		_, err = fmt.Fprintf(stdout, "%s\n", out)
		return err
	case "delete":
		if err := st.DeleteAccess(ctx, arg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "access record of %s deleted: nobody may act for it\n", arg)
		return nil
	}
	return fmt.Errorf("unknown command %q: want put, get or delete", verb)
}

// readRecord reads a record from a file, or from stdin for "-", refusing unknown fields.
func readRecord(path string, stdin io.Reader) (handoff.Access, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return handoff.Access{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var a handoff.Access
	if err := dec.Decode(&a); err != nil {
		return handoff.Access{}, fmt.Errorf("%s: not an access record: %w", path, err)
	}
	return a, nil
}
