/*
 * template: the text of a rule's title, cause and remedy, filled with a diagnosis's values.
 *
 *   {name}          the value, or nothing when the diagnosis has none
 *   {name?text}     the value, or the literal text when there is none (no braces inside)
 *   {name?+text}    the text, with its own placeholders filled, only when name has a value
 *   {{  }}          a literal brace ({{ anywhere, }} outside {name?+...} only)
 *
 * Rules are checked when loaded (hvd_template_check), so rendering never meets bad syntax;
 * if it does, the bad part is copied as it stands.
 */
#ifndef HVD_TEMPLATE_H
#define HVD_TEMPLATE_H

#include "buf.h"

#include <stddef.h>

/* Appends the value of name (len bytes, not NUL-terminated) to out. Returns 1 when it
 * appended a non-empty value, 0 when there is none, or a negative HVD_E* code. */
typedef int (*hvd_template_value)(void *ud, const char *name, size_t len, hvd_buf *out);

/* Says whether a rule can give name a value: nonzero for yes. */
typedef int (*hvd_template_known)(void *ud, const char *name, size_t len);

/* Appends tmpl (NULL: nothing) rendered to out. Returns HVD_OK or HVD_ENOMEM/HVD_ELIMIT. */
int hvd_template_render(const char *tmpl, hvd_template_value value, void *ud, hvd_buf *out);

/* Checks tmpl's syntax, and with known non-NULL that every name is known. Returns 0, or -1
 * with a message in msg ("unknown entity {vmname}", "'}' without '{' (write '}}' for a
 * brace)"). */
int hvd_template_check(const char *tmpl, hvd_template_known known, void *ud, char *msg, size_t cap);

/* Finds a placeholder left in rendered text: returns a pointer to its '{' ({name} or
 * {name?... with a lower-case name, as entities have), or NULL. Braces around other text
 * ({GUID}, a GUID's digits) are not placeholders. */
const char *hvd_template_leftover(const char *text);

#endif
