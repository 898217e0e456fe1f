package store

import (
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// update builds one UpdateItem: SET and REMOVE clauses, a condition, and their names and values.
type update struct {
	sets, removes, conds []string
	names                map[string]string
	values               item
}

func newUpdate() *update { return &update{names: map[string]string{}, values: item{}} }

func (u *update) name(attr string) string {
	n := "#" + attr
	u.names[n] = attr
	return n
}

func (u *update) value(v types.AttributeValue) string {
	n := ":u" + strconv.Itoa(len(u.values))
	u.values[n] = v
	return n
}

func (u *update) set(attr string, v types.AttributeValue) {
	u.sets = append(u.sets, u.name(attr)+" = "+u.value(v))
}

// appendList appends l to the list attr, starting it when absent.
func (u *update) appendList(attr string, l *types.AttributeValueMemberL) {
	n := u.name(attr)
	empty := u.value(&types.AttributeValueMemberL{Value: []types.AttributeValue{}})
	u.sets = append(u.sets, n+" = list_append(if_not_exists("+n+", "+empty+"), "+u.value(l)+")")
}

func (u *update) remove(attrs ...string) {
	for _, a := range attrs {
		u.removes = append(u.removes, u.name(a))
	}
}

func (u *update) cond(expr string, names map[string]string, values item) {
	u.conds = append(u.conds, "("+expr+")")
	for k, v := range names {
		u.names[k] = v
	}
	for k, v := range values {
		u.values[k] = v
	}
}

func (u *update) input(table string, key item) *dynamodb.UpdateItemInput {
	expr := "SET " + strings.Join(u.sets, ", ")
	if len(u.removes) > 0 {
		expr += " REMOVE " + strings.Join(u.removes, ", ")
	}
	in := &dynamodb.UpdateItemInput{
		TableName: &table, Key: key, UpdateExpression: aws.String(expr),
		ExpressionAttributeNames: u.names, ExpressionAttributeValues: u.values,
	}
	if len(u.conds) > 0 {
		in.ConditionExpression = aws.String(strings.Join(u.conds, " AND "))
	}
	return in
}
