/*
 * content.h - content-based recommendation from item metadata (engine/content.c)
 * and the CF + content hybrid (engine/hybrid.c).
 *
 * model_content ("content") represents each item by a sparse, L2-normalised
 * TF-IDF vector over terms taken from the catalogue: title and description
 * words, "genre:..." terms, "tag:..." terms and a "decade:1990s" term. A
 * user is the normalised weighted sum of their history items' vectors and
 * an item's score is the cosine between that profile and the item's vector,
 * so items nobody has interacted with are scored like any other.
 *
 * model_hybrid ("hybrid") blends a CF model (any registered class named by
 * its "cf" parameter, fitted with its own defaults) with a content model:
 * both parts' scores are standardised per user before a weighted sum, and
 * items without training interactions get the content part alone.
 */
#ifndef RS_CONTENT_H
#define RS_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

extern const ModelClass model_content, model_hybrid;

/* The longest term in bytes (so that a term fits an RsContribution label);
 * longer tokens and tags are cut at a UTF-8 character boundary. */
#define CONTENT_TERM_MAX 63

/* Receives one token: NUL-terminated, len bytes, valid until the next call. */
typedef void (*ContentTokenFn)(void *ctx, const char *tok, size_t len);

/* Splits free text (a title or description) into word terms and calls fn
 * for each one kept, in order: ASCII letters are lower-cased, Latin-1
 * capitals (U+00C0-U+00DE) are lower-cased too, other multi-byte UTF-8
 * characters are kept whole as letters, everything else (ASCII punctuation,
 * U+0080-U+00BF symbols, U+2000-U+206F punctuation, invalid bytes)
 * separates tokens. Tokens of one character and English stop words are
 * dropped. Returns the number of tokens passed to fn. Thread-safe. */
size_t content_tokenize(const char *text, ContentTokenFn fn, void *ctx);

/* A trained content model's vocabulary: V terms in strcmp order. */
size_t content_vocab_size(const RsModel *m);
const char *content_term(const RsModel *m, size_t t);
/* Weight of term in item's normalised TF-IDF vector (0 when the item does
 * not have it); NAN when m is not a trained content model or item is out
 * of range. */
float content_weight(const RsModel *m, uint32_t item, const char *term);
/* Inverse document frequency of term, NAN when not in the vocabulary. */
float content_idf(const RsModel *m, const char *term);

/* The hybrid's two fitted parts (NULL before fit); owned by the hybrid. */
const RsModel *hybrid_cf_part(const RsModel *m);
const RsModel *hybrid_content_part(const RsModel *m);

#endif
