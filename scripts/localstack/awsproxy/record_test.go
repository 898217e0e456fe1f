package awsproxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"handoff/scripts/localstack/awsproxy"
)

const local = "arn:aws:%s:eu-west-1:123456789012:"

// TestRecorderTellsEachCallAsIAMAuthorisesIt drives the SDK clients the functions use through a
// recorder, and checks the (principal, action, resource) of each call.
func TestRecorderTellsEachCallAsIAMAuthorisesIt(t *testing.T) {
	rec := &awsproxy.Recorder{}
	var passed atomic.Int32
	srv := httptest.NewServer(rec.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		passed.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{}`))
	})))
	defer srv.Close()
	cfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("TransferFunction", "secret", "")}
	ctx := context.Background()
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}}

	db := dynamodb.NewFromConfig(cfg)
	db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("T"), Item: key}},
		{Delete: &types.Delete{TableName: aws.String("T"), Key: key}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("U"), Key: key, ConditionExpression: aws.String("attribute_exists(pk)")}},
	}})
	db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("T"), IndexName: aws.String("awaiting")})
	db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("T"), Key: key})
	secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("handoff/acme/koreai")})
	eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("handoff"), DetailType: aws.String("Transfer Failed"), Detail: aws.String("{}"), EventBusName: aws.String("handoff")},
		{Source: aws.String("handoff"), DetailType: aws.String("Transfer Failed"), Detail: aws.String("{}")},
	}})
	// SQS's Query protocol, as older SDKs and the CLI send it.
	form := "Action=SendMessage&QueueUrl=" + srv.URL + "/123456789012/dlq&MessageBody=x"
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=BotAckFunction/20260101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=0")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	// An unsigned request is passed on but cannot be told.
	if resp, err := http.Post(srv.URL, "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close()
	}

	var got []string
	for _, c := range rec.Calls() {
		got = append(got, c.Principal+" "+c.Action+" "+c.Resource)
	}
	arn := func(service, rest string) string { return strings.Replace(local, "%s", service, 1) + rest }
	want := []string{
		"TransferFunction dynamodb:PutItem " + arn("dynamodb", "table/T"),
		"TransferFunction dynamodb:DeleteItem " + arn("dynamodb", "table/T"),
		"TransferFunction dynamodb:ConditionCheckItem " + arn("dynamodb", "table/U"),
		"TransferFunction dynamodb:Query " + arn("dynamodb", "table/T/index/awaiting"),
		"TransferFunction dynamodb:GetItem " + arn("dynamodb", "table/T"),
		"TransferFunction secretsmanager:GetSecretValue " + arn("secretsmanager", "secret:handoff/acme/koreai"+awsproxy.SecretSuffix),
		"TransferFunction events:PutEvents " + arn("events", "event-bus/handoff"),
		"TransferFunction events:PutEvents " + arn("events", "event-bus/default"),
		"BotAckFunction sqs:SendMessage " + arn("sqs", "dlq"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := rec.Problems(); len(p) != 1 || !strings.Contains(p[0], "not signed") {
		t.Errorf("problems = %q, want the unsigned request", p)
	}
	if n := passed.Load(); n != 7 {
		t.Errorf("%d requests reached the server behind the recorder, want all 7", n)
	}
}
