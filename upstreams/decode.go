package upstreams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
)

// record is the decoded form of one upstream record whose contract type is T.
type record[T any] interface {
	easyjson.Unmarshaler
	// Validate reports how the record breaks the contract, or nil.
	Validate() error
	// value returns the record as the clients give it.
	value() T
}

// lookupRecord is a record that is looked up by its id.
type lookupRecord[T any] interface {
	record[T]
	id() string
}

func (r *userRecord) id() string    { return r.ID.V }
func (r *orderRecord) id() string   { return r.ID.V }
func (r *productRecord) id() string { return r.ID.V }

// The keys the answers of batch and list endpoints are checked against.
func userID(u *User) string          { return u.ID }
func productID(p *Product) string    { return p.ID }
func reviewProduct(r *Review) string { return r.ProductID }
func orderUser(o *Order) string      { return o.UserID }

// Why an answer is refused as a whole.
var (
	errNotList    = errors.New("null instead of a list")
	errOtherID    = errors.New("the record has another id than the one asked for")
	errOtherOwner = errors.New("a record belongs to another key than the one asked for")
)

// scrub returns err without the part of the body a decoding error quotes, so that
// it may be logged.
func scrub(err error) error {
	var le *jlexer.LexerError
	if errors.As(err, &le) {
		return fmt.Errorf("decoding: %s at offset %d", le.Reason, le.Offset)
	}
	return err
}

// decodeRecord decodes body, the record asked for by id, into out, or returns how it
// breaks the contract or why it is not the record asked for.
func decodeRecord[T any, R any, PR interface {
	*R
	lookupRecord[T]
}](body []byte, id string, out *T) error {
	var r R
	if err := easyjson.Unmarshal(body, PR(&r)); err != nil {
		return scrub(err)
	}
	if err := PR(&r).Validate(); err != nil {
		return err
	}
	if PR(&r).id() != id {
		return errOtherID
	}
	*out = PR(&r).value()
	return nil
}

// refusal is a record of a list answer that breaks the contract: the key it answers
// for (key of the record as far as it decoded; "" when that is not known) and why.
type refusal struct {
	key string
	err error
}

// decodeList decodes body, a JSON array of records: kept are the records that keep
// the contract, in the answer's order, refused the others. A record that does not
// decode (a value of the wrong JSON type) is refused alone too: the answer is then
// decoded again one element at a time. An answer that is not an array of JSON values
// is an error. size is how many records the answer is expected to hold, or 0.
func decodeList[T any, R any, PR interface {
	*R
	record[T]
}](body []byte, key func(*T) string, size int) (kept []T, refused []refusal, err error) {
	in := jlexer.Lexer{Data: body}
	if in.IsNull() {
		return nil, nil, errNotList
	}
	kept = make([]T, 0, size)
	var r R // one record for all elements: each would escape on its own
	in.Delim('[')
	for in.Ok() && !in.IsDelim(']') {
		r = *new(R)
		PR(&r).UnmarshalEasyJSON(&in)
		in.WantComma()
		if !in.Ok() {
			break
		}
		if err := PR(&r).Validate(); err != nil {
			refused = append(refused, refusal{key: refusedKey(PR(&r), key), err: err})
			continue
		}
		kept = append(kept, PR(&r).value())
	}
	in.Delim(']')
	in.Consumed()
	if in.Error() != nil {
		return decodeEach[T, R, PR](body, key)
	}
	return kept, refused, nil
}

// refusedKey returns the key of a refused record as far as it decoded.
func refusedKey[T any](r record[T], key func(*T) string) string {
	v := r.value()
	return key(&v)
}

// decodeEach is decodeList for an answer that did not decode: it decodes each
// element with a lexer of its own, so that an element that does not decode is
// refused alone.
func decodeEach[T any, R any, PR interface {
	*R
	record[T]
}](body []byte, key func(*T) string) (kept []T, refused []refusal, err error) {
	in := jlexer.Lexer{Data: body}
	var r R
	var el jlexer.Lexer
	in.Delim('[')
	for in.Ok() && !in.IsDelim(']') {
		raw := in.Raw()
		in.WantComma()
		if !in.Ok() {
			break
		}
		r = *new(R)
		el = jlexer.Lexer{Data: raw}
		PR(&r).UnmarshalEasyJSON(&el)
		err := el.Error()
		if err == nil {
			err = PR(&r).Validate()
		}
		if err != nil {
			refused = append(refused, refusal{key: refusedKey(PR(&r), key), err: scrub(err)})
			continue
		}
		kept = append(kept, PR(&r).value())
	}
	in.Delim(']')
	in.Consumed()
	if err := in.Error(); err != nil {
		return nil, nil, scrub(err)
	}
	return kept, refused, nil
}

// getBatch fetches target, a batch answer for ids, and returns the records whose key
// was asked for. A record for a key not asked for is dropped, as is a refused one; the
// refused records of keys asked for, or of no known key, make a *RefusedError
// returned beside the records kept.
func getBatch[T any, R any, PR interface {
	*R
	record[T]
}](ctx context.Context, c *core, op, target string, ids []string, key func(*T) string) ([]T, error) {
	var kept []T
	var refused []refusal
	err := c.get(ctx, op, target, func(body []byte) error {
		var err error
		kept, refused, err = decodeList[T, R, PR](body, key, len(ids))
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(refused) == 0 && inOrder(kept, ids, key) {
		return kept, nil
	}
	asked := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		asked[id] = struct{}{}
	}
	n := 0
	for i := range kept {
		if _, ok := asked[key(&kept[i])]; ok {
			kept[n] = kept[i]
			n++
		}
	}
	re := &RefusedError{}
	if n < len(kept) {
		// Records of other keys: an answer to another request, or a service that
		// does not filter. Either way, a key asked for and left out cannot be
		// taken for one the service does not know: it is refused, not not-found.
		err := fmt.Errorf("%d records for keys not asked for dropped", len(kept)-n)
		c.refuse(ctx, target, err)
		re.Unattributed = &Error{Upstream: c.name, Op: op, Kind: KindBadResponse, Status: 200, Err: err}
		clear(kept[n:])
		kept = kept[:n]
	}
	if len(refused) == 0 && re.Unattributed == nil {
		return kept, nil
	}
	for _, r := range refused {
		c.refuse(ctx, target, r.err)
		e := &Error{Upstream: c.name, Op: op, Kind: KindBadResponse, Status: 200, Err: r.err}
		if _, ok := asked[r.key]; ok {
			if re.Keys == nil {
				re.Keys = map[string]*Error{}
			}
			re.Keys[r.key] = e
		} else if r.key == "" && re.Unattributed == nil {
			re.Unattributed = e
		}
	}
	if re.Keys == nil && re.Unattributed == nil {
		return kept, nil // only records of keys not asked for were refused
	}
	return kept, re
}

// inOrder reports whether the records' keys are ids asked for, in the order asked
// (with gaps for unknown ids), as services mostly answer: then every record was asked
// for, found without a set of the ids.
func inOrder[T any](kept []T, ids []string, key func(*T) string) bool {
	j := 0
	for i := range kept {
		k := key(&kept[i])
		for j < len(ids) && ids[j] != k {
			j++
		}
		if j == len(ids) {
			return false
		}
		j++
	}
	return true
}

// getOwned fetches target, the list of the records of one owner (a user's orders,
// a product's reviews), which must all keep the contract and belong to owner: the
// list is served whole or not at all, since a list with a record left out would be
// taken for the whole list.
func getOwned[T any, R any, PR interface {
	*R
	record[T]
}](ctx context.Context, c *core, op, target, owner string, key func(*T) string) ([]T, error) {
	var out []T
	err := c.get(ctx, op, target, func(body []byte) error {
		kept, refused, err := decodeList[T, R, PR](body, key, 0)
		if err != nil {
			return err
		}
		if len(refused) > 0 {
			return fmt.Errorf("%d of %d records refused, the first: %w", len(refused), len(refused)+len(kept), refused[0].err)
		}
		for i := range kept {
			if key(&kept[i]) != owner {
				return errOtherOwner
			}
		}
		out = kept
		return nil
	})
	return out, err
}

// RefusedError is the error of a batch answer some of whose records were refused:
// they break the contract. The call that returns it returns the records that were
// kept beside it, so that only the keys whose record was refused fail. It unwraps to
// *Error values of KindBadResponse, so that a caller that takes any error for the
// failure of the whole batch gets what it expects.
type RefusedError struct {
	// Keys holds the error of each key asked for whose record was refused.
	Keys map[string]*Error
	// Unattributed, if not nil, is the error of a refused record whose key could not
	// be read: any key asked for that got no record may have been its.
	Unattributed *Error
}

func (e *RefusedError) Error() string {
	n := len(e.Keys)
	if e.Unattributed != nil {
		n++
	}
	if first := e.first(); first != nil {
		return first.Error() + " (" + strconv.Itoa(n) + " keys refused)"
	}
	return "no records refused"
}

// Unwrap returns the errors of the refused records.
func (e *RefusedError) Unwrap() []error {
	errs := make([]error, 0, len(e.Keys)+1)
	if e.Unattributed != nil {
		errs = append(errs, e.Unattributed)
	}
	for _, err := range e.Keys {
		errs = append(errs, err)
	}
	return errs
}

func (e *RefusedError) first() *Error {
	if e.Unattributed != nil {
		return e.Unattributed
	}
	for _, err := range e.Keys {
		return err
	}
	return nil
}

// forKey returns the error of key, which got a record (found) or none: that of its
// refused record, or, when it got none, that of a record refused without a key.
func (e *RefusedError) forKey(key string, found bool) error {
	if err := e.Keys[key]; err != nil {
		return err
	}
	if !found && e.Unattributed != nil {
		return e.Unattributed
	}
	return nil
}

// merge adds the refusals of o to e; either may be nil.
func (e *RefusedError) merge(o *RefusedError) *RefusedError {
	if e == nil {
		return o
	}
	if o == nil {
		return e
	}
	for k, err := range o.Keys {
		if e.Keys == nil {
			e.Keys = map[string]*Error{}
		}
		e.Keys[k] = err
	}
	if e.Unattributed == nil {
		e.Unattributed = o.Unattributed
	}
	return e
}

// refuse logs a record or answer refused by the client, with the upstream, the
// request target and the reason; never the body.
func (c *core) refuse(ctx context.Context, target string, reason error) {
	if c.log == nil {
		return
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "upstream record refused", slog.String("upstream", c.name),
		slog.String("target", target), slog.String("reason", reason.Error()))
}
