/* client_id.c - see client_id.h. */
#include "core/http/client_id.h"

#include "core/base/alloc.h"

#include <string.h>

struct client_id *client_id_new(struct alog_worker *log)
{
    struct client_id *id = sp_calloc(1, sizeof(*id));
    if (id) {
        id->log = log;
    }
    return id;
}

static struct alog_ident answers(const struct client_id *id)
{
    return (struct alog_ident){id->host, id->user};
}

void client_id_log(struct client_id *id, const char *capture, size_t caplen, uint64_t sent,
                   uint64_t head_len, uint64_t t_start_us)
{
    if (!id->pending) {
        struct alog_ident a = answers(id);
        alog_done_ident(id->log, capture, caplen, sent, head_len, t_start_us, &a);
        return;
    }
    struct alog_held *held = alog_hold(id->log, capture, caplen, sent, head_len, t_start_us);
    if (!held) {
        /* out of memory: the line goes out now without the answers rather than not at all */
        alog_done_ident(id->log, capture, caplen, sent, head_len, t_start_us, NULL);
        return;
    }
    if (id->tail) {
        id->tail->next = held;
    } else {
        id->head = held;
    }
    id->tail = held;
}

static void id_free(struct client_id *id)
{
    sp_free(id->host);
    sp_free(id->user);
    sp_free(id);
}

void client_id_expect(struct client_id *id)
{
    id->pending++;
}

void client_id_settle(struct client_id *id)
{
    ASSERT(id->pending > 0);
    if (--id->pending) {
        return;
    }
    struct alog_ident a = answers(id);
    while (id->head) {
        struct alog_held *held = id->head;
        id->head = held->next;
        alog_held_write(id->log, held, &a);
    }
    id->tail = NULL;
    if (id->gone) {
        id_free(id);
    }
}

void client_id_close(struct client_id *id)
{
    id->gone = true;
    if (!id->pending) {
        id_free(id);
    }
}

void client_id_store(char **slot, const char *s, size_t len)
{
    sp_free(*slot);
    *slot = NULL;
    if (!s || !len || !(*slot = sp_malloc(len + 1))) {
        return;
    }
    memcpy(*slot, s, len);
    (*slot)[len] = '\0';
}
