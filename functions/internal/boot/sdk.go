package boot

import "github.com/aws/aws-sdk-go-v2/service/dynamodb"

// dynamoDBOptions are the DynamoDB client's own settings. BenchmarkDynamoDBRequest measured
// the SDK's client options one by one (docs/performance.md): none but this one changed the
// client's work beyond noise, and this one little (4 of 333 allocations a request). It skips
// the CRC32 of each response body, a check from before every call went over TLS, which checks
// the same bytes already.
func dynamoDBOptions(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true }
