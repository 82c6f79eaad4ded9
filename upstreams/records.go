package upstreams

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/opt"
)

// The services' JSON is decoded by typed code that easyjson generates from the types
// below (records_easyjson.go), not by reflection. Each field is an optional value, so
// that a decoded record says which fields were present and not null; a value of the
// wrong JSON type is a decoding error.
//go:generate go run github.com/mailru/easyjson/easyjson -all -no_std_marshalers -disallow_unknown_fields=false records.go

// Why a record breaks the contract. The reasons name fields, never values, so that
// logs show no part of a body.
var (
	errInvalidUTF8 = errors.New("not valid UTF-8")
	errEmptyID     = errors.New("empty id")
	errUnknownEnum = errors.New("not one of the contract's values")
	errOutOfRange  = errors.New("out of range")
)

// missing is the reason of a field the contract requires that is absent or null.
type missing string

func (m missing) Error() string { return string(m) + ": missing or null" }

// fieldError says which field of a record is wrong.
func fieldError(field string, err error) error { return fmt.Errorf("%s: %w", field, err) }

// text checks a required string field: present, not null, valid UTF-8.
func text(field string, s opt.String) error {
	if !s.Defined {
		return missing(field)
	}
	if !utf8.ValidString(s.V) {
		return fieldError(field, errInvalidUTF8)
	}
	return nil
}

// id checks a required id field: a string as text checks it, and not empty, since
// the empty id names no record.
func id(field string, s opt.String) error {
	if err := text(field, s); err != nil {
		return err
	}
	if s.V == "" {
		return fieldError(field, errEmptyID)
	}
	return nil
}

// tierField is a tier as the users service sends it: Defined when present and not
// null, V the contract's constant for it or "" for a value the contract lacks. It is
// decoded without copying the string, by its own decoder.
//
//easyjson:skip
type tierField struct {
	V       Tier
	Defined bool
}

// UnmarshalEasyJSON decodes a tier.
func (f *tierField) UnmarshalEasyJSON(l *jlexer.Lexer) {
	*f = tierField{}
	if l.IsNull() {
		l.Skip()
		return
	}
	// The string points into the body: the record keeps a constant instead.
	s := Tier(l.UnsafeString())
	for _, known := range [...]Tier{TierStandard, TierSilver, TierGold} {
		if s == known {
			f.V = known
			break
		}
	}
	f.Defined = l.Ok()
}

// statusField is tierField for an order's status.
//
//easyjson:skip
type statusField struct {
	V       OrderStatus
	Defined bool
}

// UnmarshalEasyJSON decodes an order status.
func (f *statusField) UnmarshalEasyJSON(l *jlexer.Lexer) {
	*f = statusField{}
	if l.IsNull() {
		l.Skip()
		return
	}
	s := OrderStatus(l.UnsafeString())
	for _, known := range [...]OrderStatus{StatusPending, StatusPaid, StatusShipped, StatusDelivered, StatusCancelled} {
		if s == known {
			f.V = known
			break
		}
	}
	f.Defined = l.Ok()
}

// userRecord is a User as the users service sends it.
type userRecord struct {
	ID    opt.String `json:"id"`
	Name  opt.String `json:"name"`
	Email opt.String `json:"email"`
	Tier  tierField  `json:"tier"`
}

// Validate reports how the record breaks the contract: a required field missing or
// null, a string that is not UTF-8, an empty id, a tier the contract lacks. The email
// may be missing or null.
func (r *userRecord) Validate() error {
	if err := id("id", r.ID); err != nil {
		return err
	}
	if err := text("name", r.Name); err != nil {
		return err
	}
	if r.Email.Defined && !utf8.ValidString(r.Email.V) {
		return fieldError("email", errInvalidUTF8)
	}
	if !r.Tier.Defined {
		return missing("tier")
	}
	if r.Tier.V == "" {
		return fieldError("tier", errUnknownEnum)
	}
	return nil
}

func (r *userRecord) value() User {
	u := User{ID: r.ID.V, Name: r.Name.V, Tier: r.Tier.V}
	if r.Email.Defined {
		email := r.Email.V
		u.Email = &email
	}
	return u
}

// moneyRecord is a Money as the services send it.
type moneyRecord struct {
	Amount   opt.Int64  `json:"amount"`
	Currency opt.String `json:"currency"`
}

// Validate reports a missing amount or currency, or a currency that is not UTF-8;
// field names the money in the record ("price").
func (r *moneyRecord) Validate(field string) error {
	if !r.Amount.Defined {
		return missing(field + ".amount")
	}
	if err := text("currency", r.Currency); err != nil {
		return fmt.Errorf("%s.%w", field, err) // (built only on failure: it allocates)
	}
	return nil
}

func (r *moneyRecord) value() Money { return Money{Amount: r.Amount.V, Currency: r.Currency.V} }

// orderItemRecord is an OrderItem as the orders service sends it.
type orderItemRecord struct {
	ProductID opt.String  `json:"productId"`
	Quantity  opt.Int     `json:"quantity"`
	UnitPrice moneyRecord `json:"unitPrice"`
}

// Validate reports how the item breaks the contract.
func (r *orderItemRecord) Validate() error {
	if err := id("productId", r.ProductID); err != nil {
		return err
	}
	if !r.Quantity.Defined {
		return missing("quantity")
	}
	return r.UnitPrice.Validate("unitPrice")
}

// orderRecord is an Order as the orders service sends it.
type orderRecord struct {
	ID        opt.String        `json:"id"`
	UserID    opt.String        `json:"userId"`
	Status    statusField       `json:"status"`
	CreatedAt opt.String        `json:"createdAt"`
	Items     []orderItemRecord `json:"items"`
}

// Validate reports how the order or one of its items breaks the contract; items may
// be empty but not missing or null.
func (r *orderRecord) Validate() error {
	if err := id("id", r.ID); err != nil {
		return err
	}
	if err := id("userId", r.UserID); err != nil {
		return err
	}
	if !r.Status.Defined {
		return missing("status")
	}
	if r.Status.V == "" {
		return fieldError("status", errUnknownEnum)
	}
	if err := text("createdAt", r.CreatedAt); err != nil {
		return err
	}
	if r.Items == nil {
		return missing("items")
	}
	for i := range r.Items {
		if err := r.Items[i].Validate(); err != nil {
			return fmt.Errorf("items[%d].%w", i, err)
		}
	}
	return nil
}

func (r *orderRecord) value() Order {
	items := make([]OrderItem, len(r.Items))
	for i := range r.Items {
		it := &r.Items[i]
		items[i] = OrderItem{ProductID: it.ProductID.V, Quantity: it.Quantity.V, UnitPrice: it.UnitPrice.value()}
	}
	return Order{ID: r.ID.V, UserID: r.UserID.V, Status: r.Status.V, CreatedAt: r.CreatedAt.V, Items: items}
}

// productRecord is a Product as the catalog service sends it.
type productRecord struct {
	ID       opt.String  `json:"id"`
	Name     opt.String  `json:"name"`
	Category opt.String  `json:"category"`
	Price    moneyRecord `json:"price"`
}

// Validate reports how the product breaks the contract.
func (r *productRecord) Validate() error {
	if err := id("id", r.ID); err != nil {
		return err
	}
	if err := text("name", r.Name); err != nil {
		return err
	}
	if err := text("category", r.Category); err != nil {
		return err
	}
	return r.Price.Validate("price")
}

func (r *productRecord) value() Product {
	return Product{ID: r.ID.V, Name: r.Name.V, Category: r.Category.V, Price: r.Price.value()}
}

// reviewRecord is a Review as the reviews service sends it.
type reviewRecord struct {
	ID        opt.String `json:"id"`
	ProductID opt.String `json:"productId"`
	AuthorID  opt.String `json:"authorId"`
	Rating    opt.Int    `json:"rating"`
	Body      opt.String `json:"body"`
}

// Validate reports how the review breaks the contract, a rating outside 1..5
// included.
func (r *reviewRecord) Validate() error {
	for _, f := range [...]struct {
		name string
		v    opt.String
	}{{"id", r.ID}, {"productId", r.ProductID}, {"authorId", r.AuthorID}} {
		if err := id(f.name, f.v); err != nil {
			return err
		}
	}
	if !r.Rating.Defined {
		return missing("rating")
	}
	if r.Rating.V < 1 || r.Rating.V > 5 {
		return fieldError("rating", errOutOfRange)
	}
	return text("body", r.Body)
}

func (r *reviewRecord) value() Review {
	return Review{ID: r.ID.V, ProductID: r.ProductID.V, AuthorID: r.AuthorID.V, Rating: r.Rating.V, Body: r.Body.V}
}
