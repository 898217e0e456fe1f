// Package awstest runs the real AWS SDK clients against a local moto_server, so the parts of
// Handoff that talk to DynamoDB, its stream and Secrets Manager are tested as they run, offline.
//
// One moto_server serves a whole test binary: it starts on the first New and stops in Main.
// Every New resets moto's state, so tests that call New must not run in parallel with each other
// (no t.Parallel around New); the subtests of one test may share its Env.
//
//	func TestMain(m *testing.M) { awstest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		env := awstest.New(t)
//		db := dynamodb.NewFromConfig(env.Config)
//		…
//	}
package awstest

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"handoff/core/motoserver"
)

// Region is the region every Env's clients are configured for.
const Region = "us-east-1"

// MissingMessage is how a test fails on a machine without moto_server: it says how to get it.
const MissingMessage = motoserver.Missing

// Env is a freshly reset moto, ready for SDK clients: pass Config to any NewFromConfig.
type Env struct {
	// Config has fake static credentials, Region and moto as the base endpoint. It was built by
	// hand, not loaded, so no environment variable, shared config file or instance metadata
	// service can point a client anywhere else.
	Config aws.Config
	// URL is moto's base URL, e.g. http://127.0.0.1:41234.
	URL string
}

// New returns an Env on the package's moto_server, starting it on first use and resetting its
// state, so each test begins with no tables and no secrets. It fails the test (never skips) when
// moto_server is missing or will not start.
func New(t testing.TB) *Env {
	t.Helper()
	url, err := shared.start()
	if err != nil {
		t.Fatal(err)
	}
	if err := reset(url); err != nil {
		t.Fatalf("awstest: resetting moto: %v", err)
	}
	return &Env{Config: Config(url), URL: url}
}

// Config returns an aws.Config that sends every client to the endpoint url with fake static
// credentials. It is what New uses; the local stack can use it too.
func Config(url string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(url),
	}
}

// Main runs the package's tests and then stops its moto_server. Call it from TestMain, so no
// moto_server outlives the test binary (Pdeathsig covers a binary that is killed instead).
func Main(m *testing.M) {
	code := m.Run()
	shared.stop()
	os.Exit(code)
}

// reset drops everything moto holds, in every service.
func reset(url string) error {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(url+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto answered %s", resp.Status)
	}
	return nil
}
