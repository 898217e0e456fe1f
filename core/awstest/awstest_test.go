package awstest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"handoff/core/awstest"
)

func TestMain(m *testing.M) {
	if os.Getenv("AWSTEST_WITHOUT_MOTO") != "" {
		// The child of TestMissingMotoFails: run only the test it names, with no moto on PATH.
		os.Exit(m.Run())
	}
	awstest.Main(m)
}

func TestServesDynamoDBAndResets(t *testing.T) {
	ctx := context.Background()
	env := awstest.New(t)
	if !strings.HasPrefix(env.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want loopback", env.URL)
	}
	db := dynamodb.NewFromConfig(env.Config)
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("t"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := tables(t, db); len(got) != 1 {
		t.Fatalf("tables = %v, want one", got)
	}

	again := awstest.New(t)
	if again.URL != env.URL {
		t.Errorf("second New started another moto: %s, then %s", env.URL, again.URL)
	}
	if got := tables(t, dynamodb.NewFromConfig(again.Config)); len(got) != 0 {
		t.Errorf("after New, tables = %v, want none", got)
	}
}

func TestServesSecretsManagerAndResets(t *testing.T) {
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(awstest.New(t).Config)
	_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("handoff/acme/koreai"), SecretString: aws.String(`{"baseUrl":"http://127.0.0.1:1"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("handoff/acme/koreai")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.SecretString) != `{"baseUrl":"http://127.0.0.1:1"}` {
		t.Errorf("secret = %q", aws.ToString(got.SecretString))
	}

	sm = secretsmanager.NewFromConfig(awstest.New(t).Config)
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("handoff/acme/koreai")})
	var nf *smtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("after reset, GetSecretValue error = %v, want ResourceNotFoundException", err)
	}
}

// TestMissingMotoFails runs this test binary again with an empty PATH and checks that New fails
// the test, with the install hint, instead of skipping it.
func TestMissingMotoFails(t *testing.T) {
	if os.Getenv("AWSTEST_WITHOUT_MOTO") != "" {
		awstest.New(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingMotoFails$", "-test.v")
	cmd.Env = append(os.Environ(), "AWSTEST_WITHOUT_MOTO=1", "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child error = %v, want a failing exit; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), awstest.MissingMessage) || !strings.Contains(string(out), "--- FAIL") {
		t.Errorf("child output lacks a failure with %q:\n%s", awstest.MissingMessage, out)
	}
	if strings.Contains(string(out), "SKIP") {
		t.Errorf("child skipped:\n%s", out)
	}
}

func tables(t *testing.T, db *dynamodb.Client) []string {
	t.Helper()
	out, err := db.ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	return out.TableNames
}
