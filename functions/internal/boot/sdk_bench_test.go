package boot

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BenchmarkDynamoDBRequest is the AWS SDK's own work for one DynamoDB UpdateItem, the store's
// usual write, answered in process without a socket: the client's own work, which each option
// may change. Compare variants within one run.
func BenchmarkDynamoDBRequest(b *testing.B) {
	body := []byte(`{"Attributes":{"pk":{"S":"t#demo#x"},"status":{"S":"pending"}}}`)
	crc := fmt.Sprint(crc32.ChecksumIEEE(body))
	// An answer in process, without a socket: only the client's work is left to measure.
	answer := roundTrip(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		h := http.Header{}
		h.Set("Content-Type", "application/x-amz-json-1.0")
		h.Set("X-Amz-Crc32", crc)
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
	})
	none := func(*config.LoadOptions) error { return nil }
	variants := []struct {
		name string
		opts []func(*config.LoadOptions) error
		db   func(*dynamodb.Options)
	}{
		{"sdk-defaults", []func(*config.LoadOptions) error{none}, nil},
		{"no-retry-token-bucket", []func(*config.LoadOptions) error{config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.None })
		})}, nil},
		{"checksums-when-required", []func(*config.LoadOptions) error{
			config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired)}, nil},
		{"no-dynamodb-crc32", nil, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true }},
		{"no-clock-skew", []func(*config.LoadOptions) error{config.WithDisableClockSkewCorrection(aws.Bool(true))}, nil},
		{"account-id-endpoint-disabled", []func(*config.LoadOptions) error{config.WithAccountIDEndpointMode(aws.AccountIDEndpointModeDisabled)}, nil},
		{"endpoint-discovery-disabled", []func(*config.LoadOptions) error{config.WithEndpointDiscovery(aws.EndpointDiscoveryDisabled)}, nil},
		{"chosen", nil, dynamoDBOptions},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			opts := append([]func(*config.LoadOptions) error{
				config.WithRegion("us-east-1"),
				config.WithBaseEndpoint("http://dynamodb.local"),
				config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "token")),
			}, v.opts...)
			cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			dbOpts := []func(*dynamodb.Options){func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: answer} }}
			if v.db != nil {
				dbOpts = append(dbOpts, v.db)
			}
			db := dynamodb.NewFromConfig(cfg, dbOpts...)
			in := &dynamodb.UpdateItemInput{
				TableName:                 aws.String("handoff"),
				Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "t#demo#x"}, "sk": &types.AttributeValueMemberS{Value: "transfer"}},
				UpdateExpression:          aws.String("SET #s = :s, #v = :v"),
				ConditionExpression:       aws.String("#v = :old"),
				ExpressionAttributeNames:  map[string]string{"#s": "status", "#v": "version"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "transferred"}, ":v": &types.AttributeValueMemberN{Value: "2"}, ":old": &types.AttributeValueMemberN{Value: "1"}},
				ReturnValues:              types.ReturnValueAllNew,
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := db.UpdateItem(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
