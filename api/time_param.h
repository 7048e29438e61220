/* time_param.h: RFC 3339 timestamps given by clients (query parameters
 * and body fields), checked at the edge and handed to PostgreSQL in one
 * form it reads whatever its settings.
 */
#ifndef HL_TIME_PARAM_H
#define HL_TIME_PARAM_H

#include <stdbool.h>
#include <stddef.h>

#define TIME_PARAM_MAX 64       /* longest timestamp accepted, bytes */
#define TIME_PARAM_OUT (TIME_PARAM_MAX + 8)   /* room for the normalized form */

/* Check that 's' is an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac] then
 * Z or +HH:MM / -HH:MM; 't', 'z' and a space for 'T' allowed) naming a day
 * that exists, and write it in the one form PostgreSQL reads whatever its
 * settings into 'out' ('cap' >= TIME_PARAM_OUT). A ' ' where the offset
 * sign belongs is taken for a '+' that the query string decoded. Returns
 * false if it is not one (or longer than TIME_PARAM_MAX). Any thread. */
bool time_rfc3339_normalize(const char *s, char *out, size_t cap);

#endif
