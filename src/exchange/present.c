/* SPDX-License-Identifier: Apache-2.0 */
/*
 * present.c: the JSON form of records and persons (see present.h).
 */
#include "core/dfdg.h"
#include "exchange/present.h"
#include "core/when.h"

json_t *
dfdg_present_date(int32_t day)
{
    if (day == DFDG_DATE_NONE)
        return json_null();
    char buf[DFDG_DATE_LEN];
    dfdg_date_format(day, buf);
    return json_string(buf);
}

json_t *
dfdg_present_person(const struct dfdg_person *p, bool protected_now, bool mask)
{
    json_t *o = json_object();
    json_object_set_new(o, "cpr", json_string(p->cpr));
    json_t *prev = json_array();
    for (size_t i = 0; i < p->nprevious; i++)
        json_array_append_new(prev, json_string(p->previous[i]));
    json_object_set_new(o, "previous_cprs", prev);
    json_object_set_new(o, "name",
                        json_pack("{s:s, s:s?, s:s}", "first", p->first, "middle",
                                  p->middle[0] != '\0' ? p->middle : NULL, "last", p->last));
    json_object_set_new(o, "birthdate", dfdg_present_date(p->birthdate));
    json_object_set_new(o, "sex", json_string(p->sex));
    json_object_set_new(o, "status", json_string(p->status));
    json_object_set_new(o, "address_protected", json_boolean(protected_now));
    if (!(protected_now && mask)) {
        json_t *addrs = json_array();
        for (size_t i = 0; i < p->naddresses; i++) {
            const struct dfdg_address *a = &p->addresses[i];
            json_array_append_new(
                addrs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "kommunekode",
                                 a->kommunekode, "road", a->road, "house", a->house, "postcode",
                                 a->postcode, "city", a->city, "from", dfdg_present_date(a->from),
                                 "to", dfdg_present_date(a->to)));
        }
        json_object_set_new(o, "addresses", addrs);
    }
    json_t *kids = json_array();
    for (size_t i = 0; i < p->nchildren; i++)
        json_array_append_new(kids, dfdg_present_date(p->children[i]));
    json_object_set_new(o, "children_birthdates", kids);
    return o;
}

static const char *
kind_name(enum dfdg_record_kind k)
{
    switch (k) {
    case DFDG_RECORD_CORRECTION:
        return "correction";
    case DFDG_RECORD_CANCELLATION:
        return "cancellation";
    default:
        return "original";
    }
}

json_t *
dfdg_present_record(const struct dfdg_record *rec, const char *cpr)
{
    char vf[DFDG_DATE_LEN], vt[DFDG_DATE_LEN], at[DFDG_TIME_LEN];
    dfdg_date_format(rec->valid_from, vf);
    dfdg_time_format(rec->recorded_at, at);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(rec->id));
    json_object_set_new(o, "type", json_string(rec->type));
    if (rec->person_id != 0 && cpr != NULL)
        json_object_set_new(o, "cpr", json_string(cpr));
    if (rec->cvr[0] != '\0')
        json_object_set_new(o, "cvr", json_string(rec->cvr));
    json_object_set_new(o, "reporter", json_string(rec->reporter));
    json_object_set_new(o, "source_ref", json_string(rec->source_ref));
    json_object_set_new(o, "kind", json_string(kind_name(rec->kind)));
    if (rec->target_id[0] != '\0')
        json_object_set_new(o, rec->kind == DFDG_RECORD_CANCELLATION ? "cancels" : "corrects",
                            json_string(rec->target_id));
    json_object_set_new(o, "valid_from", json_string(vf));
    if (rec->valid_to != DFDG_DATE_NONE) {
        dfdg_date_format(rec->valid_to, vt);
        json_object_set_new(o, "valid_to", json_string(vt));
    } else {
        json_object_set_new(o, "valid_to", json_null());
    }
    json_object_set_new(o, "recorded_at", json_string(at));
    json_t *data = json_loads(rec->data != NULL ? rec->data : "{}", 0, NULL);
    json_object_set_new(o, "data", data != NULL ? data : json_object());
    if (rec->reason != NULL)
        json_object_set_new(o, "reason", json_string(rec->reason));
    return o;
}
