package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/scripts/localstack/template"
)

// createTables creates the template's tables, with their streams and TTL, in the local
// DynamoDB; a table that already exists is left as it is.
func createTables(ctx context.Context, db *dynamodb.Client, tables []template.Table) error {
	for _, t := range tables {
		if err := createTable(ctx, db, t); err != nil {
			return fmt.Errorf("creating table %s: %w", t.Name, err)
		}
	}
	return nil
}

func createTable(ctx context.Context, db *dynamodb.Client, t template.Table) error {
	in := &dynamodb.CreateTableInput{TableName: aws.String(t.Name), BillingMode: types.BillingModePayPerRequest}
	for _, a := range t.Attributes {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(a.Name), AttributeType: types.ScalarAttributeType(a.Type)})
	}
	for _, k := range t.Keys {
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: types.KeyType(k.KeyType)})
	}
	for _, index := range t.Indexes {
		gsi := types.GlobalSecondaryIndex{IndexName: aws.String(index.Name), Projection: &types.Projection{ProjectionType: types.ProjectionType(index.Projection)}}
		for _, k := range index.Keys {
			gsi.KeySchema = append(gsi.KeySchema, types.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: types.KeyType(k.KeyType)})
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	if t.StreamViewType != "" {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(t.StreamViewType)}
	}
	_, err := db.CreateTable(ctx, in)
	var exists *types.ResourceInUseException
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil || t.TTLAttribute == "" {
		return err
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(t.Name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true)},
	})
	return err
}
