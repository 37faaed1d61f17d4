/*
 * eventxml: one Windows event rendered as XML (<Event xmlns=".../event"> with System and
 * EventData or UserData), as libevtx, wevtutil and Event Viewer print it, parsed into an
 * hvd_event. The EVTX reader uses it for what libevtx has no accessor for (Channel,
 * TimeCreated, Task, Keywords, named Data); rule examples use it to build test events.
 */
#ifndef HVD_EVENTXML_H
#define HVD_EVENTXML_H

#include "error.h"
#include "event.h"

#include <stddef.h>

typedef struct hvd_eventxml hvd_eventxml; /* parser state and the strings it hands out */

int hvd_eventxml_create(hvd_eventxml **out, hvd_error *err);
void hvd_eventxml_destroy(hvd_eventxml *px); /* NULL-safe */

/*
 * Parses one <Event> element (an XML document of its own, or the first <Event> inside
 * <Events>) and fills the event's System fields, fields[] and message. ev->kind, position
 * and source_path are left as the caller set them. Strings in *ev are borrowed from px:
 * valid until the next parse or destroy. name is used in error messages only.
 * Returns HVD_OK or a negative HVD_E* code with err set.
 */
int hvd_eventxml_parse(hvd_eventxml *px, const char *name, const char *xml, size_t len,
                       hvd_event *ev, hvd_error *err);

/* Replaces control characters XML forbids (libevtx renders them raw from event data) with
 * spaces, in place, so the record still parses. */
void hvd_eventxml_scrub(char *xml, size_t len);

#endif
