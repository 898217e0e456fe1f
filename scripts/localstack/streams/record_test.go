package streams_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/scripts/localstack/streams"
)

func TestAttributeTypes(t *testing.T) {
	e := newEnv(t)
	e.cfg.Filters = nil
	f := newFunction(nil)
	e.run(f)
	e.put(map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "TRANSFER#x"}, "sk": &types.AttributeValueMemberS{Value: "T"},
		"n":    &types.AttributeValueMemberN{Value: "1.5"},
		"b":    &types.AttributeValueMemberB{Value: []byte("hi")},
		"bool": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"a"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"2"}},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}}},
		"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberN{Value: "3"}}},
	})
	receive(t, f)
	var batch struct {
		Records []struct {
			Dynamodb struct{ NewImage map[string]json.RawMessage }
		}
	}
	json.Unmarshal(f.raw[0], &batch)
	want := map[string]string{
		"n": `{"N":"1.5"}`, "b": `{"B":"aGk="}`, "bool": `{"BOOL":true}`, "null": `{"NULL":true}`, "ss": `{"SS":["a"]}`,
		"ns": `{"NS":["2"]}`, "l": `{"L":[{"S":"x"}]}`, "m": `{"M":{"k":{"N":"3"}}}`,
	}
	for name, w := range want {
		if got := string(batch.Records[0].Dynamodb.NewImage[name]); got != w {
			t.Errorf("%s = %s, want %s", name, got, w)
		}
	}
}

func TestRunFailsForATableWithoutAStream(t *testing.T) {
	e := newEnv(t)
	_, err := e.db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String("plain"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Table, cfg.Target = "plain", newFunction(nil)
	if err := streams.New(cfg).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no stream") {
		t.Errorf("Run = %v", err)
	}
}
