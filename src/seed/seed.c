/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seed.c: the synthetic population and record history of `dfdg seed` (seed.h). Persons come
 * from the CPR office's number rules (core/cpr.h, NOTES section 3); records follow the report
 * rules of DESIGN section 4 and authz/access.h and carry data generated from each catalog
 * type's fields, so no information type is named here except the two that create
 * relationships (akasse-membership and other-actor-referral, as in authz/access.c).
 *
 * Invariants:
 *   1. Determinism: every choice comes from xoshiro256** streams seeded by splitmix64 from the
 *      seed (one stream a person, drawn in a fixed order), never from the clock, rand() or the
 *      store. Ids are UUIDv7 built from recorded_at and PRNG bits in the layout of core/uuid.c;
 *      recorded_at derives from the valid time. So the same seed and N give the same bytes.
 *   2. Report rules (authz/access.h): the reporter's kind is among the type's reporters; a
 *      kommune reports on valid_from days when the person lived there (address 'to' is
 *      exclusive); an a-kasse on days inside the person's membership of that a-kasse, except
 *      the akasse-membership records themselves; citizens report about themselves
 *      ("citizen:<person_id>"). A correction keeps the type, subject, reporter and valid_from of
 * its target, a cancellation inherits them (as ingest stores it), so both keep the rule.
 *   3. Every data object passes dfdg_catalog_validate_data for the reporter's kind before it is
 *      written; a failure is a bug in this file and stops the seed with DFDG_INTERNAL.
 *   4. Each record is superseded or withdrawn at most once, by a record recorded later; the
 *      membership records are never corrected or cancelled at random, so the membership
 *      periods the a-kasse records were placed in stay the current ones.
 *   5. content_hash is dfdg_ingest_hash over the item ingest would have prepared, so a client
 *      that replays a seeded record with the same source_ref gets the seeded id back.
 */
#include "core/dfdg.h"
#include "seed/seed.h"
#include "core/builtin.h"
#include "core/cpr.h"
#include "core/uuid.h"
#include "core/when.h"
#include "exchange/ingest.h"
#include "exchange/route.h"
#include "store/refdata.h"

#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <time.h>

/* The two types whose records create relationships (see authz/access.c). */
#define MEMBERSHIP_TYPE "akasse-membership"
#define MEMBERSHIP_START_FIELD "start_date"
#define MEMBERSHIP_END_FIELD "end_date"
#define MEMBERSHIP_REASON_FIELD "leaving_reason"
#define REFERRAL_ACTOR_FIELD "actor_cvr"
#define REFERRAL_ACTOR_NAME_FIELD "actor_name"

#define RECORDS_PER_PERSON 22.0 /* target mean of generated originals (tuned; ~20 in all) */
#define OPTIONAL_FIELD_P 0.45   /* chance that an optional field is filled */
#define CORRECTION_P 0.02       /* chance that a current record gets a correction */
#define CANCELLATION_P 0.008    /* ... or a cancellation */
#define MAX_ADDR 3
#define MAX_MEM 3
#define MAX_KIDS 3
#define MAX_SPELLS 2
#define NACTORS 8
#define NCOMPANIES 1500
#define US_PER_DAY INT64_C(86400000000)
#define US_PER_S INT64_C(1000000)

/* --- PRNG: splitmix64 seeds xoshiro256** (Blackman and Vigna) ------------------------------ */

struct rng {
    uint64_t s[4];
};

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Stream `stream` of seed `seed`: distinct streams are independent for practical purposes. */
static void
rng_init(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    x = splitmix64(&x) ^ (stream * UINT64_C(0xd1b54a32d192ed03));
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) for n >= 1 (Lemire's multiply-shift; the bias is below 2^-32). */
static uint32_t
rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi] (inclusive); lo when hi < lo. */
static int64_t
rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    if (span <= UINT32_MAX)
        return lo + (int64_t)rng_below(r, (uint32_t)span);
    return lo + (int64_t)(rng_next(r) % span);
}

/* Uniform in [0, 1). */
static double
rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static bool
rng_chance(struct rng *r, double p)
{
    return rng_unit(r) < p;
}

/* Poisson-distributed count (Knuth's product method; means here are small). */
static unsigned
rng_poisson(struct rng *r, double mean)
{
    if (mean <= 0.0)
        return 0;
    if (mean > 200.0)
        mean = 200.0;
    double limit = exp(-mean), p = 1.0;
    unsigned k = 0;
    do {
        k++;
        p *= rng_unit(r);
    } while (p > limit && k < 1000);
    return k - 1;
}

/* Index i of a cumulative weight table cum[0..n-1] (cum[n-1] > 0) picked by weight. */
static size_t
pick_weighted(struct rng *r, const double *cum, size_t n)
{
    double x = rng_unit(r) * cum[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

#define PICK(r, list) ((list)[rng_below((r), (uint32_t)DFDG_ARRAY_LEN(list))])

/* --- word lists ---------------------------------------------------------------------------- */

static const char *const first_male[] = {
    "Peter",  "Jens",     "Lars",      "Michael", "Henrik", "Thomas", "Søren",     "Jan",
    "Niels",  "Anders",   "Christian", "Martin",  "Morten", "Rasmus", "Jesper",    "Mads",
    "Mikkel", "Frederik", "Kasper",    "Jonas",   "Emil",   "Oliver", "William",   "Lucas",
    "Magnus", "Mathias",  "Kim",       "Ole",     "Hans",   "Bo",     "Torben",    "Kristian",
    "Jakob",  "Simon",    "Nikolaj",   "Andreas", "Tobias", "Victor", "Alexander", "Carl",
};
static const char *const first_female[] = {
    "Anne",     "Kirsten",  "Mette",   "Hanne",  "Helle",     "Susanne",  "Lene",     "Maria",
    "Marianne", "Lone",     "Camilla", "Louise", "Charlotte", "Pia",      "Tina",     "Gitte",
    "Julie",    "Sofie",    "Ida",     "Emma",   "Laura",     "Freja",    "Clara",    "Anna",
    "Cecilie",  "Mathilde", "Katrine", "Line",   "Karen",     "Inge",     "Birgitte", "Rikke",
    "Sara",     "Signe",    "Nanna",   "Maja",   "Josefine",  "Caroline", "Amalie",   "Ane",
};
static const char *const last_names[] = {
    "Nielsen",  "Jensen",       "Hansen",    "Andersen",    "Pedersen", "Christensen", "Larsen",
    "Sørensen", "Rasmussen",    "Jørgensen", "Petersen",    "Madsen",   "Kristensen",  "Olsen",
    "Thomsen",  "Christiansen", "Poulsen",   "Johansen",    "Møller",   "Mortensen",   "Knudsen",
    "Jakobsen", "Mikkelsen",    "Olesen",    "Frederiksen", "Laursen",  "Henriksen",   "Lund",
    "Schmidt",  "Holm",         "Eriksen",   "Kristiansen", "Nissen",   "Clausen",     "Simonsen",
    "Svendsen", "Andreasen",    "Iversen",   "Østergaard",  "Jeppesen",
};
static const char *const middle_names[] = {
    "Juul", "Holm",        "Krogh", "Munk",  "Dahl", "Bach",    "Skov",  "Lund",
    "Kjær", "Vestergaard", "Bøgh",  "Friis", "Borg", "Winther", "Lykke",
};
static const char *const roads[] = {
    "Nørregade",   "Vestergade", "Østergade", "Søndergade", "Algade",      "Jernbanegade",
    "Skolevej",    "Kirkevej",   "Møllevej",  "Bakkevej",   "Parkvej",     "Engvej",
    "Strandvejen", "Birkevej",   "Egevej",    "Lindevej",   "Rosenvænget", "Hovedgaden",
    "Stationsvej", "Solvej",     "Ahornvej",  "Skovvej",    "Havnegade",   "Torvet",
};
static const char *const job_titles[] = {
    "Lagermedarbejder",
    "Social- og sundhedshjælper",
    "Pædagogmedhjælper",
    "Butiksassistent",
    "Kontorassistent",
    "Chauffør",
    "Tømrer",
    "Elektriker",
    "Rengøringsassistent",
    "Kok",
    "Salgskonsulent",
    "IT-supporter",
    "Bogholder",
    "Sygeplejerske",
    "Ingeniør",
    "Projektleder",
    "Smed",
    "Murer",
    "Tjener",
    "Kundeservicemedarbejder",
    "Produktionsmedarbejder",
    "Lærer",
    "Maler",
    "Gartner",
    "Mekaniker",
    "Regnskabsmedarbejder",
    "Lastbilchauffør",
    "Receptionist",
};
static const char *const sentences[] = {
    "Borgeren deltog aktivt i samtalen og søger job inden for lager og logistik.",
    "Aftalt opfølgning om fire uger.",
    "Borgeren ønsker at skifte branche og er interesseret i et kortere kursus.",
    "Der er aftalt virksomhedspraktik hos en lokal virksomhed i otte uger.",
    "Ledigheden skyldes sæsonarbejde; borgeren forventer at vende tilbage til foråret.",
    "Borgeren er motiveret og har sendt flere ansøgninger siden sidste samtale.",
    "Ingen bemærkninger.",
    "Samtalen blev holdt telefonisk efter aftale med borgeren.",
    "Borgeren har brug for hjælp til at skrive cv og ansøgninger.",
    "Der er aftalt mentorstøtte de første tre måneder i det nye job.",
    "Borgeren kan arbejde op til 20 timer om ugen på grund af helbredet.",
    "Jobsøgningen skal udvides til hele regionen.",
    "Borgeren er henvist til et forløb om jobsøgning og netværk.",
    "Oplysningerne er indhentet fra borgerens læge.",
    "Sagen er drøftet med a-kassen, og der er enighed om planen.",
};
static const char *const short_words[] = {
    "ordinær", "forlænget", "fuldtid",    "deltid", "afsluttet", "ny",
    "ændret",  "standard",  "genoptaget", "A",      "B",         "C",
};
static const char *const cancel_reasons[] = {
    "Registreret ved en fejl",   "Indberettet på den forkerte person",
    "Dobbeltregistrering",       "Indberettet for den forkerte periode",
    "Aflyst af sagsbehandleren",
};
static const char *const company_prefix[] = {
    "Nordisk", "Dansk", "Vest", "Fyns", "Jysk", "Sjællands", "Øresund", "Møller",
    "Kyst",    "Grøn",  "Lind", "Holm", "Nord", "Syd",       "Midt",    "Bakke",
};
static const char *const company_trade[] = {
    "Byg",    "Logistik", "Rengøring", "Transport", "Data", "Service",  "Entreprise",
    "Handel", "Metal",    "Fødevarer", "Pleje",     "El",   "Maskiner", "Design",
};
static const char *const company_form[] = {"ApS", "A/S", "I/S", "ApS", "A/S"};
static const char *const actor_names[NACTORS] = {
    "Job & Karriere ApS", "Beskæftigelseshuset A/S", "Vejen til Job ApS",
    "Mentorhuset ApS",    "Nordic Jobservice A/S",   "Kompetencecentret ApS",
    "Aktiv Indsats A/S",  "Karriereværkstedet ApS",
};

/* Population by kommunekode, in hundreds (Danmarks Statistik, rounded): the seed spreads
 * persons roughly like the real population. A kommune missing here weighs 30,000. */
static const struct {
    const char *kode;
    unsigned hundreds;
} kommune_pop[] = {
    {"101", 6600}, {"147", 1050}, {"151", 520},  {"153", 390},  {"155", 140}, {"157", 750},
    {"159", 700},  {"161", 240},  {"163", 300},  {"165", 280},  {"167", 540}, {"169", 580},
    {"173", 570},  {"175", 410},  {"183", 240},  {"185", 440},  {"187", 170}, {"190", 420},
    {"201", 260},  {"210", 410},  {"217", 640},  {"219", 530},  {"223", 250}, {"230", 570},
    {"240", 440},  {"250", 460},  {"253", 510},  {"259", 620},  {"260", 310}, {"265", 900},
    {"269", 230},  {"270", 410},  {"306", 330},  {"316", 730},  {"320", 370}, {"326", 490},
    {"329", 360},  {"330", 800},  {"336", 230},  {"340", 300},  {"350", 290}, {"360", 400},
    {"370", 840},  {"376", 600},  {"390", 460},  {"400", 390},  {"410", 400}, {"420", 410},
    {"430", 520},  {"440", 240},  {"450", 320},  {"461", 2100}, {"479", 590}, {"480", 300},
    {"482", 120},  {"492", 60},   {"510", 560},  {"530", 270},  {"540", 740}, {"550", 370},
    {"561", 1160}, {"563", 35},   {"573", 500},  {"575", 430},  {"580", 590}, {"607", 520},
    {"615", 970},  {"621", 950},  {"630", 1210}, {"657", 900},  {"661", 590}, {"665", 190},
    {"671", 210},  {"706", 440},  {"707", 370},  {"710", 500},  {"727", 230}, {"730", 990},
    {"740", 990},  {"741", 37},   {"746", 640},  {"751", 3670}, {"756", 420}, {"760", 560},
    {"766", 470},  {"773", 200},  {"779", 460},  {"787", 430},  {"791", 980}, {"810", 360},
    {"813", 580},  {"820", 360},  {"825", 18},   {"840", 300},  {"846", 420}, {"849", 380},
    {"851", 2220}, {"860", 640},
};

/* Members by a-kasse id, in thousands (rough): the larger funds get more members. */
static const struct {
    const char *id;
    unsigned thousands;
} akasse_size[] = {
    {"3f", 230},      {"ajks", 20},  {"akademikerne", 230}, {"ase", 160},        {"bupl-a", 60},
    {"ca", 130},      {"dfh", 140},  {"dsa", 90},           {"fak", 50},         {"foa", 150},
    {"frie", 40},     {"ftf-a", 80}, {"hk", 200},           {"krifa", 160},      {"laererne", 80},
    {"lederne", 110}, {"ma", 60},    {"metal", 90},         {"min-a-kasse", 70}, {"sl", 40},
    {"tak", 50},
};

/* Relative frequency by type code; other types weigh DEFAULT_TYPE_WEIGHT. The catalog
 * decides which types exist: this only shapes how often each appears. */
#define DEFAULT_TYPE_WEIGHT 0.4
static const struct {
    const char *code;
    double weight;
} type_weight[] = {
    {"joblog-entry", 4.0},
    {"benefit-payment", 2.5},
    {"akasse-joblog", 1.5},
    {"summons", 1.2},
    {"job-interview", 1.2},
    {"benefit-counters", 1.0},
    {"akasse-interview", 0.8},
    {"plan-and-activation", 0.8},
    {"jobseeker-registration", 0.6},
    {"sick-well-report", 0.6},
    {"cv", 0.6},
    {"cv-interview", 0.4},
    {"absence", 0.4},
    {"caseworker-assignment", 0.4},
    {"jobcentre-notification", 0.4},
    {"holiday", 0.4},
    {"akasse-jobcentre-message", 0.3},
    {"company", 0.3},
    {"job-order", 0.3},
    {"sickness-benefit", 0.2},
    {"sickness-followup", 0.2},
    {"other-actor-referral", 0.15},
    {"sickness-benefit-form", 0.15},
    {"health-limitation", 0.1},
    {"rule-225-hours", 0.1},
    {"education-loan", 0.05},
    {"pension-case", 0.05},
    {"benefit-sanction", 0.05},
    {"akasse-trial", 0.05},
    {"refugee-transfer", 0.02},
};

/* --- the seeder's state -------------------------------------------------------------------- */

struct kommune {
    char kode[4];  /* 3 digits */
    char org[16];  /* "kommune:<kode>" */
    char name[64]; /* "København" */
    int postcode;  /* a plausible postcode for the kommune */
};

struct company {
    char cvr[DFDG_CVR_LEN]; /* valid (modulus 11) */
    char name[64];          /* display name */
};

struct tinfo {
    const struct dfdg_type *t; /* the catalog type */
    double weight;             /* relative frequency */
    bool period;               /* valid_to is used (the description does not say otherwise) */
    bool membership;           /* the akasse-membership type */
    unsigned kinds;            /* reporter kinds the seed uses (kommune, akasse, citizen) */
    uint64_t count;            /* records made so far (every type must appear) */
};

struct membership {
    size_t akasse;   /* index into the a-kasse list */
    int32_t from;    /* first day */
    int32_t to;      /* last day (inclusive) or DFDG_DATE_NONE */
    char leaving[2]; /* leaving reason when ended, else "" */
    int64_t rec_at;  /* recorded_at of the record that started it */
};

/* One person being made: master data and what the records are placed in. */
struct plan {
    size_t index;                       /* 0-based person number */
    struct dfdg_person p;               /* master data (arrays point into this plan) */
    char prev[1][DFDG_CPR_LEN];         /* a previous CPR number */
    struct dfdg_address addr[MAX_ADDR]; /* oldest first, contiguous */
    size_t kidx[MAX_ADDR];              /* kommune of each address */
    struct dfdg_period prot[1];         /* address protection */
    int32_t kids[MAX_KIDS];             /* children's birth dates */
    struct membership mem[MAX_MEM];     /* a-kasse memberships, oldest first */
    size_t nmem;
    struct dfdg_period spell[MAX_SPELLS]; /* unemployment spells: records cluster there */
    size_t nspells;
    int32_t lo;    /* first day records may have */
    double lambda; /* how much the person deals with the system */
};

/* One record being made. */
struct srec {
    const struct tinfo *ti;      /* its type */
    enum dfdg_org_kind kind;     /* reporter kind */
    size_t reporter;             /* kommune or a-kasse index (unused for citizens) */
    int company;                 /* company index for company subjects, else -1 */
    int32_t valid_from;          /* day */
    int32_t valid_to;            /* day or DFDG_DATE_NONE */
    int64_t recorded_at;         /* microseconds */
    enum dfdg_record_kind rkind; /* original, correction, cancellation */
    int target;                  /* index of the corrected/cancelled record, or -1 */
    bool succeeded;              /* a later record corrects or cancels it */
    bool locked;                 /* never corrected or cancelled at random (memberships) */
    int mem;                     /* membership index for a-kasse reports, or -1 */
    size_t data_off;             /* canonical data in the arena */
    const char *reason;          /* cancellation reason, or NULL */
    char id[DFDG_UUID_LEN];      /* UUIDv7 */
};

struct order {
    int64_t t;  /* recorded_at */
    uint32_t i; /* index into recs */
};

struct seeder {
    struct dfdg_store *s;
    const struct dfdg_catalog *cat;
    uint64_t seed;
    struct dfdg_errinfo *ei;
    int32_t first_day;     /* first valid_from of records */
    int32_t last_day;      /* last valid_from of records (the "today" of the history) */
    int32_t migration_day; /* when history from before first_day was recorded */
    int64_t time_cap;      /* every recorded_at is below this */
    struct kommune *kom;   /* nkom kommuner, in the order of kommuner.csv */
    size_t nkom;
    double *kom_cum;      /* cumulative population weights */
    struct dfdg_org *aks; /* the a-kasser (from the reference lists) */
    size_t naks;
    double *aks_cum; /* cumulative size weights */
    struct company actors[NACTORS];
    struct company *companies; /* NCOMPANIES */
    struct tinfo *ti;          /* one per catalog type */
    size_t nti;
    double per_weight; /* mean records per unit of type weight and of lambda */
    const struct tinfo *membership;
    uint64_t *cprs; /* open-addressing set of CPR numbers in use (value + 1) */
    size_t cpr_mask;
    struct srec *recs; /* the current person's records */
    size_t nrecs, caprecs;
    struct order *order; /* insertion order, caprecs entries */
    char *arena;         /* canonical data of the current person's records */
    size_t alen, acap;
    uint64_t next_ref; /* source_ref counter */
    struct dfdg_seed_stats st;
};

/* --- small helpers ------------------------------------------------------------------------- */

static bool
has(const char *s, const char *sub)
{
    return strstr(s, sub) != NULL;
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Cuts s in place to at most max characters (UTF-8 code points), dropping a trailing space. */
static void
cut_chars(char *s, size_t max)
{
    size_t chars = 0, i = 0;
    for (; s[i] != '\0'; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (chars == max)
                break;
            chars++;
        }
    }
    s[i] = '\0';
    while (i > 0 && s[i - 1] == ' ')
        s[--i] = '\0';
}

/* The date y years after day (28 Feb for 29 Feb in a common year). */
static int32_t
add_years(int32_t day, int years)
{
    int y, m, d;
    dfdg_date_to_ymd(day, &y, &m, &d);
    if (!dfdg_date_is_valid_ymd(y + years, m, d))
        d = 28;
    return dfdg_date_from_ymd(y + years, m, d);
}

/* Whole years from birth to day. */
static int
age_on(int32_t birth, int32_t day)
{
    int by, bm, bd, y, m, d;
    dfdg_date_to_ymd(birth, &by, &bm, &bd);
    dfdg_date_to_ymd(day, &y, &m, &d);
    int age = y - by;
    if (m < bm || (m == bm && d < bd))
        age--;
    return age;
}

static int32_t
min32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

static int32_t
max32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

/* A valid CVR number (weights 2,7,6,5,4,3,2,1, sum divisible by 11). */
static void
make_cvr(struct rng *r, char out[DFDG_CVR_LEN])
{
    static const int w[7] = {2, 7, 6, 5, 4, 3, 2};
    for (;;) {
        int sum = 0;
        out[0] = (char)('1' + rng_below(r, 9));
        for (int i = 1; i < 7; i++)
            out[i] = (char)('0' + rng_below(r, 10));
        for (int i = 0; i < 7; i++)
            sum += w[i] * (out[i] - '0');
        int c = (11 - sum % 11) % 11;
        if (c == 10)
            continue;
        out[7] = (char)('0' + c);
        out[8] = '\0';
        return;
    }
}

/* A UUIDv7 of unix_ms with PRNG bits, in the layout of core/uuid.c. */
static void
make_uuid(struct rng *r, int64_t unix_ms, char out[DFDG_UUID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    uint64_t ms = unix_ms < 0 ? 0 : (uint64_t)unix_ms;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (8 * (5 - i)));
    uint64_t x = rng_next(r), y = rng_next(r);
    for (int i = 0; i < 8; i++)
        b[6 + i] = (uint8_t)(x >> (8 * i));
    for (int i = 0; i < 2; i++)
        b[14 + i] = (uint8_t)(y >> (8 * i));
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
}

/* --- CPR numbers --------------------------------------------------------------------------- */

static uint64_t
cpr_value(const char *digits)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++)
        v = v * 10 + (uint64_t)(digits[i] - '0');
    return v + 1; /* 0 marks an empty slot */
}

/* Adds a number to the set; false when it is already there. */
static bool
cpr_claim(struct seeder *sd, const char *digits)
{
    uint64_t v = cpr_value(digits);
    size_t i = (size_t)((v * UINT64_C(0x9e3779b97f4a7c15)) >> 20) & sd->cpr_mask;
    while (sd->cprs[i] != 0) {
        if (sd->cprs[i] == v)
            return false;
        i = (i + 1) & sd->cpr_mask;
    }
    sd->cprs[i] = v;
    return true;
}

/*
 * A CPR number for birth and sex that is not in use yet: DDMMYY, a 7th digit that gives the
 * right century (CPR office table: 0-3 and 4/9 for 1937-1999; 4-9 for 2000-2036), two serial
 * digits and a check digit that passes modulus 11 unless mod11 is false, with the parity of
 * the sex (odd = male). Checked with dfdg_cpr_parse.
 */
static dfdg_err
make_cpr(struct seeder *sd, struct rng *r, int32_t birth, bool male, bool mod11,
         char out[DFDG_CPR_LEN])
{
    static const int w[9] = {4, 3, 2, 7, 6, 5, 4, 3, 2};
    static const char d7_1900[] = "0123012301230149";
    static const char d7_2000[] = "456789";
    int y, m, d;
    dfdg_date_to_ymd(birth, &y, &m, &d);
    for (int attempt = 0; attempt < 100000; attempt++) {
        snprintf(out, DFDG_CPR_LEN, "%02d%02d%02d", d, m, y % 100);
        out[6] = y < 2000 ? d7_1900[rng_below(r, sizeof d7_1900 - 1)]
                          : d7_2000[rng_below(r, sizeof d7_2000 - 1)];
        out[7] = (char)('0' + rng_below(r, 10));
        out[8] = (char)('0' + rng_below(r, 10));
        int sum = 0;
        for (int i = 0; i < 9; i++)
            sum += w[i] * (out[i] - '0');
        int c;
        if (mod11) {
            c = (11 - sum % 11) % 11;
            if (c == 10 || (c % 2 == 1) != male)
                continue;
        } else {
            c = 2 * (int)rng_below(r, 5) + (male ? 1 : 0);
            if ((sum + c) % 11 == 0)
                continue;
        }
        out[9] = (char)('0' + c);
        out[10] = '\0';
        struct dfdg_cpr parsed;
        if (dfdg_cpr_parse(out, 10, &parsed, NULL) != DFDG_OK || parsed.birthdate != birth ||
            parsed.male != male || dfdg_cpr_has_mod11(out) != mod11)
            return dfdg_errinfo_set(sd->ei, DFDG_INTERNAL,
                                    "made a CPR number that does not parse back (bug)");
        if (cpr_claim(sd, out))
            return DFDG_OK;
    }
    return dfdg_errinfo_set(sd->ei, DFDG_INTERNAL, "ran out of CPR numbers for a day");
}

/* --- reference data ------------------------------------------------------------------------ */

static unsigned
kommune_weight(const char *kode)
{
    for (size_t i = 0; i < DFDG_ARRAY_LEN(kommune_pop); i++)
        if (strcmp(kommune_pop[i].kode, kode) == 0)
            return kommune_pop[i].hundreds;
    return 300;
}

/* Postcode ranges by region code (kommuner.csv column region_kode). */
static void
region_postcodes(int region, int *lo, int *hi)
{
    switch (region) {
    case 1084:
        *lo = 1000;
        *hi = 3790;
        return; /* Hovedstaden */
    case 1085:
        *lo = 4000;
        *hi = 4990;
        return; /* Sjælland */
    case 1083:
        *lo = 5000;
        *hi = 6990;
        return; /* Syddanmark */
    case 1082:
        *lo = 7000;
        *hi = 8990;
        return; /* Midtjylland */
    case 1081:
        *lo = 9000;
        *hi = 9990;
        return; /* Nordjylland */
    default:
        *lo = 1000;
        *hi = 9990;
        return;
    }
}

/* Parses the built-in kommuner.csv (kode,navn,region_kode,region_navn; no quoting). */
static dfdg_err
load_kommuner(struct seeder *sd)
{
    const char *text = dfdg_builtin_data("kommuner.csv");
    if (text == NULL)
        return dfdg_errinfo_set(sd->ei, DFDG_CORRUPT, "built-in kommuner.csv is missing");
    size_t cap = 128;
    int *region = calloc(cap, sizeof *region);
    sd->kom = calloc(cap, sizeof *sd->kom);
    sd->kom_cum = calloc(cap, sizeof *sd->kom_cum);
    if (region == NULL || sd->kom == NULL || sd->kom_cum == NULL) {
        free(region);
        return DFDG_NOMEM;
    }
    const char *p = text;
    int line = 0;
    double total = 0;
    while (*p != '\0') {
        const char *end = strchr(p, '\n');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        line++;
        char buf[256];
        if (len >= sizeof buf || memchr(p, '"', len) != NULL) {
            free(region);
            return dfdg_errinfo_set(sd->ei, DFDG_CORRUPT, "kommuner.csv line %d", line);
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
            buf[len - 1] = '\0';
        p = end != NULL ? end + 1 : p + len;
        if (line == 1 || buf[0] == '\0')
            continue;
        char *c1 = strchr(buf, ',');
        char *c2 = c1 != NULL ? strchr(c1 + 1, ',') : NULL;
        if (c1 == NULL || c2 == NULL || c1 - buf != 3 || sd->nkom == cap) {
            free(region);
            return dfdg_errinfo_set(sd->ei, DFDG_CORRUPT, "kommuner.csv line %d", line);
        }
        *c1 = '\0';
        *c2 = '\0';
        struct kommune *k = &sd->kom[sd->nkom];
        dfdg_strlcpy(k->kode, buf, sizeof k->kode);
        snprintf(k->org, sizeof k->org, "kommune:%s", k->kode);
        dfdg_strlcpy(k->name, c1 + 1, sizeof k->name);
        region[sd->nkom] = (int)strtol(c2 + 1, NULL, 10);
        total += kommune_weight(k->kode);
        sd->kom_cum[sd->nkom] = total;
        sd->nkom++;
    }
    /* Each kommune gets its own postcode, spread over its region's range in list order. */
    for (size_t i = 0; i < sd->nkom; i++) {
        size_t rank = 0, count = 0;
        for (size_t j = 0; j < sd->nkom; j++) {
            if (region[j] == region[i]) {
                if (j < i)
                    rank++;
                count++;
            }
        }
        int lo, hi;
        region_postcodes(region[i], &lo, &hi);
        sd->kom[i].postcode = lo + (int)(((size_t)(hi - lo) * rank / count) / 10 * 10);
    }
    free(region);
    if (sd->nkom == 0)
        return dfdg_errinfo_set(sd->ei, DFDG_CORRUPT, "kommuner.csv lists no kommune");
    return DFDG_OK;
}

static unsigned
akasse_weight(const char *org_id)
{
    const char *code = strchr(org_id, ':');
    code = code != NULL ? code + 1 : org_id;
    for (size_t i = 0; i < DFDG_ARRAY_LEN(akasse_size); i++)
        if (strcmp(akasse_size[i].id, code) == 0)
            return akasse_size[i].thousands;
    return 50;
}

/* The a-kasser from the reference lists, and every org the seed reports as, inserted when
 * missing. */
static dfdg_err
load_orgs(struct seeder *sd)
{
    struct dfdg_org *orgs = NULL;
    size_t n = 0;
    dfdg_err rc = dfdg_refdata_orgs(&orgs, &n, sd->ei);
    if (rc != DFDG_OK)
        return rc;
    sd->aks = calloc(n + 1, sizeof *sd->aks);
    sd->aks_cum = calloc(n + 1, sizeof *sd->aks_cum);
    if (sd->aks == NULL || sd->aks_cum == NULL) {
        rc = DFDG_NOMEM;
        goto free_orgs;
    }
    rc = dfdg_store_begin(sd->s);
    if (rc != DFDG_OK)
        goto free_orgs;
    double total = 0;
    struct dfdg_org have;
    for (size_t i = 0; i < n && rc == DFDG_OK; i++) {
        bool kommune = strcmp(orgs[i].kind, "kommune") == 0;
        bool akasse = strcmp(orgs[i].kind, "akasse") == 0;
        if (!kommune && !akasse)
            continue;
        if (akasse) {
            sd->aks[sd->naks] = orgs[i];
            total += akasse_weight(orgs[i].id);
            sd->aks_cum[sd->naks++] = total;
        }
        rc = dfdg_store_org_get(sd->s, orgs[i].id, &have);
        if (rc == DFDG_NOT_FOUND) {
            rc = dfdg_store_org_put(sd->s, &orgs[i]);
            sd->st.orgs_added++;
        }
    }
    for (size_t i = 0; i < NACTORS && rc == DFDG_OK; i++) {
        struct dfdg_org o;
        memset(&o, 0, sizeof o);
        snprintf(o.id, sizeof o.id, "aktoer:%s", sd->actors[i].cvr);
        dfdg_strlcpy(o.kind, "aktoer", sizeof o.kind);
        dfdg_strlcpy(o.name, sd->actors[i].name, sizeof o.name);
        rc = dfdg_store_org_get(sd->s, o.id, &have);
        if (rc == DFDG_NOT_FOUND) {
            rc = dfdg_store_org_put(sd->s, &o);
            sd->st.orgs_added++;
        }
    }
    /* Every kommune of kommuner.csv must exist as an org, also when the lists disagree. */
    for (size_t i = 0; i < sd->nkom && rc == DFDG_OK; i++) {
        rc = dfdg_store_org_get(sd->s, sd->kom[i].org, &have);
        if (rc == DFDG_NOT_FOUND) {
            struct dfdg_org o;
            memset(&o, 0, sizeof o);
            dfdg_strlcpy(o.id, sd->kom[i].org, sizeof o.id);
            dfdg_strlcpy(o.kind, "kommune", sizeof o.kind);
            snprintf(o.name, sizeof o.name, "%s Kommune", sd->kom[i].name);
            rc = dfdg_store_org_put(sd->s, &o);
            sd->st.orgs_added++;
        }
    }
    if (rc == DFDG_OK)
        rc = dfdg_store_commit(sd->s);
    else
        (void)dfdg_store_rollback(sd->s);
    if (rc != DFDG_OK)
        dfdg_errinfo_set(sd->ei, rc, "inserting orgs: %s", dfdg_store_last_error(sd->s));
    else if (sd->naks == 0)
        rc = dfdg_errinfo_set(sd->ei, DFDG_CORRUPT, "the reference lists hold no a-kasse");
free_orgs:
    free(orgs);
    return rc;
}

/* The other actors and the companies: the same for every seed, so the org list is stable. */
static dfdg_err
make_companies(struct seeder *sd)
{
    struct rng r;
    rng_init(&r, UINT64_C(0x5eed0c0ffee), 1);
    sd->companies = calloc(NCOMPANIES, sizeof *sd->companies);
    if (sd->companies == NULL)
        return DFDG_NOMEM;
    for (size_t i = 0; i < NACTORS + NCOMPANIES; i++) {
        struct company *c = i < NACTORS ? &sd->actors[i] : &sd->companies[i - NACTORS];
        bool unique;
        do {
            make_cvr(&r, c->cvr);
            unique = true;
            for (size_t j = 0; j < i && unique; j++) {
                const struct company *o =
                    j < NACTORS ? &sd->actors[j] : &sd->companies[j - NACTORS];
                unique = strcmp(o->cvr, c->cvr) != 0;
            }
        } while (!unique);
        if (i < NACTORS)
            dfdg_strlcpy(c->name, actor_names[i], sizeof c->name);
        else
            snprintf(c->name, sizeof c->name, "%s %s %s", PICK(&r, company_prefix),
                     PICK(&r, company_trade), PICK(&r, company_form));
    }
    return DFDG_OK;
}

/* Per-type facts from the catalog: which reporter kinds, periods or events, weights. */
static dfdg_err
load_types(struct seeder *sd)
{
    sd->ti = calloc(sd->cat->ntypes + 1, sizeof *sd->ti);
    if (sd->ti == NULL)
        return DFDG_NOMEM;
    const unsigned usable = DFDG_KIND_BIT(DFDG_KIND_KOMMUNE) | DFDG_KIND_BIT(DFDG_KIND_AKASSE) |
                            DFDG_KIND_BIT(DFDG_KIND_CITIZEN);
    double sum = 0;
    for (size_t i = 0; i < sd->cat->ntypes; i++) {
        const struct dfdg_type *t = &sd->cat->types[i];
        struct tinfo *ti = &sd->ti[sd->nti++];
        ti->t = t;
        ti->kinds = t->reporters & usable;
        if (t->subject == DFDG_SUBJECT_COMPANY)
            ti->kinds &= ~DFDG_KIND_BIT(DFDG_KIND_CITIZEN);
        ti->membership = strcmp(t->code, MEMBERSHIP_TYPE) == 0 &&
                         (ti->kinds & DFDG_KIND_BIT(DFDG_KIND_AKASSE)) != 0 &&
                         t->subject == DFDG_SUBJECT_PERSON;
        if (ti->membership) {
            ti->kinds = DFDG_KIND_BIT(DFDG_KIND_AKASSE);
            sd->membership = ti;
        }
        /* Events and statements say so in their description (catalog/README.md). */
        const char *desc = json_string_value(json_object_get(t->json, "description"));
        ti->period = desc == NULL || strstr(desc, "valid_to is not used") == NULL;
        ti->weight = DEFAULT_TYPE_WEIGHT;
        for (size_t j = 0; j < DFDG_ARRAY_LEN(type_weight); j++)
            if (strcmp(type_weight[j].code, t->code) == 0)
                ti->weight = type_weight[j].weight;
        if (!ti->membership && ti->kinds != 0)
            sum += ti->weight;
    }
    sd->per_weight = sum > 0 ? RECORDS_PER_PERSON / sum : 0;
    return DFDG_OK;
}

/* --- persons ------------------------------------------------------------------------------- */

static size_t
residence(const struct plan *pl, int32_t day)
{
    for (size_t i = pl->p.naddresses; i-- > 0;)
        if (pl->addr[i].from <= day)
            return pl->kidx[i];
    return pl->kidx[0];
}

static void
fill_address(struct seeder *sd, struct rng *r, struct dfdg_address *a, size_t k)
{
    memset(a, 0, sizeof *a);
    dfdg_strlcpy(a->kommunekode, sd->kom[k].kode, sizeof a->kommunekode);
    dfdg_strlcpy(a->road, PICK(r, roads), sizeof a->road);
    if (rng_chance(r, 0.15))
        snprintf(a->house, sizeof a->house, "%u%c", 1 + rng_below(r, 120),
                 (char)('A' + rng_below(r, 4)));
    else
        snprintf(a->house, sizeof a->house, "%u", 1 + rng_below(r, 150));
    int pc = sd->kom[k].postcode + 10 * (int)rng_below(r, 3);
    snprintf(a->postcode, sizeof a->postcode, "%04d", pc > 9990 ? sd->kom[k].postcode : pc);
    dfdg_strlcpy(a->city, sd->kom[k].name, sizeof a->city);
    a->to = DFDG_DATE_NONE;
}

static dfdg_err
make_person(struct seeder *sd, struct rng *r, struct plan *pl)
{
    struct dfdg_person *p = &pl->p;
    int32_t b_lo = dfdg_date_from_ymd(1955, 1, 1), b_hi = dfdg_date_from_ymd(2007, 12, 31);
    p->birthdate = (int32_t)rng_range(r, b_lo, b_hi);
    bool male = rng_chance(r, 0.5);
    /* Fixed positions rather than chance, so even a small population has each case. */
    bool mod11 = pl->index % 64 != 11; /* ~1.6% numbers without modulus 11 */
    dfdg_err rc = make_cpr(sd, r, p->birthdate, male, mod11, p->cpr);
    if (rc != DFDG_OK)
        return rc;
    /* CPR-number changers (NOTES section 3): the old number still resolves to the person. */
    if (pl->index % 333 == 5) { /* ~0.3% */
        rc = make_cpr(sd, r, p->birthdate, male, true, pl->prev[0]);
        if (rc != DFDG_OK)
            return rc;
        p->previous = pl->prev;
        p->nprevious = 1;
    }
    dfdg_strlcpy(p->sex, male ? "M" : "F", sizeof p->sex);
    dfdg_strlcpy(p->status, "active", sizeof p->status);
    dfdg_strlcpy(p->first, male ? PICK(r, first_male) : PICK(r, first_female), sizeof p->first);
    if (rng_chance(r, 0.25))
        dfdg_strlcpy(p->middle, PICK(r, middle_names), sizeof p->middle);
    dfdg_strlcpy(p->last, PICK(r, last_names), sizeof p->last);

    /* Addresses: the first one before the record history starts, then 0-2 moves in it. The
     * first persons go round the kommuner so every kommune has residents. */
    size_t k = pl->index < sd->nkom ? pl->index : pick_weighted(r, sd->kom_cum, sd->nkom);
    int32_t from_lo = max32(p->birthdate, dfdg_date_from_ymd(1985, 1, 1));
    int32_t from_hi = sd->first_day - 1;
    fill_address(sd, r, &pl->addr[0], k);
    pl->addr[0].from = (int32_t)rng_range(r, min32(from_lo, from_hi), from_hi);
    pl->kidx[0] = k;
    p->naddresses = 1;
    double u = rng_unit(r);
    size_t moves = u < 0.60 ? 0 : u < 0.88 ? 1 : 2;
    int32_t prev = sd->first_day + 30;
    for (size_t i = 0; i < moves; i++) {
        int32_t span_end = sd->last_day - (int32_t)(moves - 1 - i) * 60;
        if (prev + 30 > span_end)
            break;
        int32_t day = (int32_t)rng_range(r, prev + 30, span_end);
        if (!rng_chance(r, 0.35))
            k = pick_weighted(r, sd->kom_cum, sd->nkom);
        struct dfdg_address *a = &pl->addr[p->naddresses];
        fill_address(sd, r, a, k);
        a->from = day;
        pl->addr[p->naddresses - 1].to = day; /* exclusive: the moving day is at the new one */
        pl->kidx[p->naddresses] = k;
        p->naddresses++;
        prev = day;
    }
    p->addresses = pl->addr;

    /* Address protection for 1%, about half of it still running. */
    if (pl->index % 100 == 3) {
        int32_t from = (int32_t)rng_range(r, pl->addr[0].from, sd->last_day);
        int32_t to = DFDG_DATE_NONE;
        if (rng_chance(r, 0.5) && from + 60 <= sd->last_day)
            to = (int32_t)rng_range(r, from + 30, sd->last_day);
        pl->prot[0] = (struct dfdg_period){from, to};
        p->protection = pl->prot;
        p->nprotection = 1;
    }
    /* Children for some of those old enough. */
    if (age_on(p->birthdate, sd->last_day) >= 22 && rng_chance(r, 0.45)) {
        size_t n = 1 + rng_below(r, MAX_KIDS);
        int32_t lo = add_years(p->birthdate, 20);
        int32_t hi = min32(add_years(p->birthdate, 45), sd->last_day);
        for (size_t i = 0; i < n && lo <= hi; i++)
            pl->kids[p->nchildren++] = (int32_t)rng_range(r, lo, hi);
        for (size_t i = 1; i < p->nchildren; i++) /* oldest first */
            for (size_t j = i; j > 0 && pl->kids[j - 1] > pl->kids[j]; j--) {
                int32_t t = pl->kids[j];
                pl->kids[j] = pl->kids[j - 1];
                pl->kids[j - 1] = t;
            }
        p->children = p->nchildren > 0 ? pl->kids : NULL;
    }
    pl->lo = max32(sd->first_day, add_years(p->birthdate, 16));
    return DFDG_OK;
}

/* Is code one of field f's enum values (so the seed only uses codes the catalog has)? */
static bool
enum_has(const struct dfdg_field *f, const char *code)
{
    for (size_t i = 0; f != NULL && i < f->nvalues; i++)
        if (strcmp(f->values[i], code) == 0)
            return true;
    return false;
}

static const struct dfdg_field *
find_field(const struct dfdg_type *t, const char *name)
{
    for (size_t i = 0; i < t->nfields; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return &t->fields[i];
    return NULL;
}

/* A-kasse memberships (BEK kap. 16) for ~75% of those aged 18-66: most still running, some
 * ended, some transferred to another a-kasse (leaving reason "A", the next one starts the day
 * after). */
static void
make_memberships(struct seeder *sd, struct rng *r, struct plan *pl)
{
    int age = age_on(pl->p.birthdate, sd->last_day);
    if (sd->membership == NULL || age < 18 || age > 66 || !rng_chance(r, 0.75))
        return;
    int32_t lo = max32(add_years(pl->p.birthdate, 18), dfdg_date_from_ymd(1990, 1, 1));
    int32_t hi = sd->last_day - 60;
    if (lo > hi)
        return;
    const struct dfdg_field *reason = find_field(sd->membership->t, MEMBERSHIP_REASON_FIELD);
    int32_t from = (int32_t)rng_range(r, lo, hi);
    size_t ak = pick_weighted(r, sd->aks_cum, sd->naks);
    while (pl->nmem < MAX_MEM) {
        struct membership *m = &pl->mem[pl->nmem++];
        memset(m, 0, sizeof *m);
        m->akasse = ak;
        m->from = from;
        m->to = DFDG_DATE_NONE;
        double u = rng_unit(r);
        if (pl->nmem < MAX_MEM && u < 0.12 && from + 365 < sd->last_day - 60 && sd->naks > 1) {
            m->to = (int32_t)rng_range(r, from + 180, sd->last_day - 60);
            dfdg_strlcpy(m->leaving, enum_has(reason, "A") ? "A" : "", sizeof m->leaving);
            from = m->to + 1;
            size_t next;
            do
                next = pick_weighted(r, sd->aks_cum, sd->naks);
            while (next == ak);
            ak = next;
            continue;
        }
        if (u < 0.27 && from + 90 < sd->last_day) {
            m->to = (int32_t)rng_range(r, from + 90, sd->last_day);
            double v = rng_unit(r);
            const char *why = v < 0.70 ? "U" : v < 0.85 ? "S" : v < 0.95 ? "E" : "F";
            dfdg_strlcpy(m->leaving, enum_has(reason, why) ? why : "", sizeof m->leaving);
        }
        break;
    }
}

/* How much the person deals with the system, and the unemployment spells records cluster in. */
static void
make_activity(struct seeder *sd, struct rng *r, struct plan *pl)
{
    double u = rng_unit(r);
    pl->lambda = u < 0.30 ? 0.1 : u < 0.70 ? 0.8 : 2.2;
    pl->lambda *= 0.7 + 0.6 * rng_unit(r);
    if (pl->lo > sd->last_day || pl->lambda < 0.5)
        return;
    pl->nspells = 1 + rng_below(r, MAX_SPELLS);
    for (size_t i = 0; i < pl->nspells; i++) {
        int32_t from = (int32_t)rng_range(r, pl->lo, sd->last_day);
        int32_t len = (int32_t)rng_range(r, 60, 720);
        pl->spell[i] = (struct dfdg_period){from, min32(from + len, sd->last_day)};
    }
}

/* A day in [a, b], usually inside an unemployment spell that overlaps it. -1 if a > b. */
static int32_t
pick_day(struct rng *r, const struct plan *pl, int32_t a, int32_t b)
{
    if (a > b)
        return -1;
    if (pl->nspells > 0 && rng_chance(r, 0.75)) {
        size_t s = rng_below(r, (uint32_t)pl->nspells);
        int32_t lo = max32(a, pl->spell[s].from), hi = min32(b, pl->spell[s].to);
        if (lo <= hi)
            return (int32_t)rng_range(r, lo, hi);
    }
    return (int32_t)rng_range(r, a, b);
}

/* The part of membership m that records may fall in: [*a, *b], false when empty. */
static bool
membership_window(const struct seeder *sd, const struct plan *pl, const struct membership *m,
                  int32_t *a, int32_t *b)
{
    *a = max32(m->from, pl->lo);
    *b = min32(m->to, sd->last_day);
    return *a <= *b;
}

/* --- record times and data ------------------------------------------------------------------ */

/* When a fact valid from day was recorded: the same day or a little later, in working hours
 * for orgs; history from before the hub's record window came in at migration. */
static int64_t
record_time(struct seeder *sd, struct rng *r, int32_t day, bool citizen)
{
    int32_t d;
    if (day < sd->first_day) {
        d = sd->migration_day + (int32_t)rng_below(r, 28);
    } else {
        double u = rng_unit(r);
        d = day + (u < 0.7   ? 0
                   : u < 0.9 ? (int32_t)rng_range(r, 1, 3)
                             : (int32_t)rng_range(r, 4, 30));
    }
    int64_t secs = citizen ? rng_range(r, 6 * 3600, 23 * 3600 + 3599)
                           : rng_range(r, 7 * 3600, 17 * 3600 + 3599);
    int64_t t = (int64_t)d * US_PER_DAY + secs * US_PER_S + rng_below(r, 1000000);
    return t < sd->time_cap ? t : sd->time_cap - 1;
}

/* A successor's time: an hour to four months after its target, before the cap. */
static int64_t
later_time(struct seeder *sd, struct rng *r, int64_t after)
{
    int64_t t = after + rng_range(r, 3600, 120 * 86400) * US_PER_S + rng_below(r, 1000000);
    if (t >= sd->time_cap)
        t = sd->time_cap - 1;
    return t > after ? t : after + 1;
}

struct gen {
    struct seeder *sd;
    struct rng *r;
    struct plan *pl;
    size_t self;      /* index of the record being made */
    int32_t day;      /* its valid_from */
    size_t kom;       /* the kommune of residence on that day */
    int company;      /* the subject company, or -1 */
    int32_t valid_to; /* its valid_to */
};

static void
person_name(struct rng *r, char *buf, size_t size)
{
    const char *first = rng_chance(r, 0.5) ? PICK(r, first_male) : PICK(r, first_female);
    snprintf(buf, size, "%s %s", first, PICK(r, last_names));
}

static void
digits(struct rng *r, char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('0' + rng_below(r, 10));
    buf[n] = '\0';
}

/* ISO 8601 week "YYYY-Www" of a day. */
static void
iso_week(int32_t day, char *buf, size_t size)
{
    int32_t wday = (int32_t)(((int64_t)day + 3) % 7); /* Monday = 0; 1970-01-01 was Thursday */
    if (wday < 0)
        wday += 7;
    int32_t thursday = day - wday + 3;
    int y, m, d;
    dfdg_date_to_ymd(thursday, &y, &m, &d);
    int week = (thursday - dfdg_date_from_ymd(y, 1, 1)) / 7 + 1;
    snprintf(buf, size, "%04d-W%02d", y, week);
}

/*
 * A plausible string for field f, by what its name says it holds (times, months, weeks,
 * phones, names, places, codes), else Danish free text; cut to max_length. Returns false
 * when the field is better left out.
 */
static bool
gen_string(struct gen *g, const struct dfdg_field *f, char *buf, size_t size)
{
    struct rng *r = g->r;
    const char *n = f->name;
    const struct kommune *k = &g->sd->kom[g->kom];
    size_t max = f->max_length != 0 ? f->max_length : 200;
    int y, m, d;
    dfdg_date_to_ymd(g->day, &y, &m, &d);
    if (ends_with(n, "_time") && max < 20) {
        snprintf(buf, size, "%02u:%02u", 8 + rng_below(r, 8), 15 * rng_below(r, 4));
    } else if (ends_with(n, "_time")) {
        snprintf(buf, size, "%04d-%02d-%02dT%02u:%02u:%02uZ", y, m, d, 6 + rng_below(r, 14),
                 rng_below(r, 60), rng_below(r, 60));
    } else if (has(n, "month")) {
        snprintf(buf, size, "%04d-%02d", y, m);
    } else if (has(n, "week")) {
        iso_week(g->day, buf, size);
    } else if (has(n, "year")) {
        if (max >= 9)
            snprintf(buf, size, "%04d/%04d", y, y + 1);
        else
            snprintf(buf, size, "%04d", y);
    } else if (has(n, "phone")) {
        if (max >= 15)
            snprintf(buf, size, "+45 %02u %02u %02u %02u", 20 + rng_below(r, 80), rng_below(r, 100),
                     rng_below(r, 100), rng_below(r, 100));
        else
            digits(r, buf, max < 8 ? max : 8);
    } else if (has(n, "email")) {
        snprintf(buf, size, "post%05u@example.dk", rng_below(r, 100000));
    } else if (has(n, "record_id")) {
        if (g->self == 0 || max < DFDG_UUID_LEN - 1)
            return false;
        dfdg_strlcpy(buf, g->sd->recs[rng_below(r, (uint32_t)g->self)].id, size);
    } else if (has(n, "country")) {
        dfdg_strlcpy(buf, "DK", size);
    } else if (has(n, "municipality") && max <= 3) {
        dfdg_strlcpy(buf, k->kode, size);
    } else if (has(n, "municipality") || has(n, "authority_name")) {
        snprintf(buf, size, "Jobcenter %s", k->name);
    } else if (has(n, "authority_code")) {
        snprintf(buf, size, "%s00", k->kode);
    } else if (has(n, "company") && g->company >= 0) {
        dfdg_strlcpy(buf, g->sd->companies[g->company].name, size);
    } else if (has(n, "employer") || has(n, "actor_name") || has(n, "company")) {
        dfdg_strlcpy(buf, g->sd->companies[rng_below(r, NCOMPANIES)].name, size);
    } else if (has(n, "trial")) {
        dfdg_strlcpy(buf, "Forsøg med a-kassens kontaktforløb", size);
    } else if (ends_with(n, "_name") || has(n, "contact_person") || has(n, "handled_by")) {
        person_name(r, buf, size);
    } else if (has(n, "job_title") || has(n, "job_goal") || has(n, "job_wishes")) {
        dfdg_strlcpy(buf, PICK(r, job_titles), size);
    } else if (has(n, "location") || has(n, "area") || has(n, "city")) {
        dfdg_strlcpy(buf, k->name, size);
    } else if (strcmp(n, "address") == 0 || ends_with(n, "_address")) {
        snprintf(buf, size, "%s %u, %04d %s", PICK(r, roads), 1 + rng_below(r, 150), k->postcode,
                 k->name);
    } else if (has(n, "number") || has(n, "code") || has(n, "disco") || has(n, "reference")) {
        digits(r, buf, max < 10 ? max : max < 50 ? 10 : 8);
    } else if (max >= 100) {
        dfdg_strlcpy(buf, PICK(r, sentences), size);
    } else {
        dfdg_strlcpy(buf, PICK(r, short_words), size);
    }
    cut_chars(buf, max);
    return buf[0] != '\0';
}

/* A date near the record's valid_from: before it for starts and decisions, after it for
 * deadlines and expected ends, around it otherwise. */
static int32_t
gen_date(struct gen *g, const char *n)
{
    int32_t day = g->day;
    bool end = has(n, "end") || has(n, "deregistration");
    if (end && g->valid_to != DFDG_DATE_NONE)
        return g->valid_to; /* the field repeats the end of the record's period */
    if (end || has(n, "deadline") || has(n, "expir") || has(n, "expected") || has(n, "review") ||
        has(n, "next") || has(n, "reassess") || has(n, "lapse") || has(n, "return"))
        return day + (int32_t)rng_range(g->r, 7, 365);
    if (has(n, "start") || has(n, "first") || has(n, "registration") || has(n, "notification") ||
        has(n, "assessment") || has(n, "created") || has(n, "decision") || has(n, "sent"))
        return day - (int32_t)rng_range(g->r, 0, 21);
    return day + (int32_t)rng_range(g->r, -30, 60);
}

static json_t *
date_json(int32_t day)
{
    char buf[DFDG_DATE_LEN];
    dfdg_date_format(day, buf);
    return json_string(buf);
}

/* A value for field f, or NULL to leave it out (or on allocation failure: see caller). */
static json_t *
gen_value(struct gen *g, const struct dfdg_field *f, bool *skip)
{
    struct rng *r = g->r;
    *skip = false;
    switch (f->type) {
    case DFDG_FT_STRING: {
        char buf[512];
        if (!gen_string(g, f, buf, sizeof buf)) {
            *skip = true;
            return NULL;
        }
        return json_string(buf);
    }
    case DFDG_FT_INT: {
        int64_t lo = f->has_min ? (int64_t)ceil(f->min) : 0;
        int64_t hi =
            f->has_max ? (int64_t)floor(f->max) : lo + (ends_with(f->name, "_id") ? 999999 : 1000);
        return json_integer(rng_range(r, lo, hi));
    }
    case DFDG_FT_DECIMAL: {
        double lo = f->has_min ? f->min : 0;
        double hi = f->has_max              ? f->max
                    : has(f->name, "dkk")   ? lo + 25000
                    : has(f->name, "hours") ? lo + 1924
                                            : lo + 1000;
        /* Quarters are exact in binary, so the canonical text stays short ("18.25"). */
        double v = floor((lo + rng_unit(r) * (hi - lo)) * 4.0 + 0.5) / 4.0;
        if (f->has_max && v > f->max)
            v = floor(f->max * 4.0) / 4.0;
        if (f->has_min && v < f->min)
            v = ceil(f->min * 4.0) / 4.0;
        return json_real(v);
    }
    case DFDG_FT_BOOL:
        return json_boolean(rng_chance(r, 0.5));
    case DFDG_FT_DATE:
        return date_json(gen_date(g, f->name));
    case DFDG_FT_ENUM:
        return json_string(f->values[rng_below(r, (uint32_t)f->nvalues)]);
    case DFDG_FT_CPR:
        return json_string(g->pl->p.cpr);
    case DFDG_FT_CVR:
        return json_string(g->sd->companies[rng_below(r, NCOMPANIES)].cvr);
    }
    *skip = true;
    return NULL;
}

/* Appends the canonical text of data (as ingest makes it) to the arena; *off gets its start. */
static dfdg_err
arena_dump(struct seeder *sd, const json_t *data, size_t *off)
{
    const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
    for (;;) {
        if (sd->acap - sd->alen < 4096) {
            size_t nc = sd->acap * 2 + 65536;
            char *grown = realloc(sd->arena, nc);
            if (grown == NULL)
                return DFDG_NOMEM;
            sd->arena = grown;
            sd->acap = nc;
        }
        size_t room = sd->acap - sd->alen;
        size_t need = json_dumpb(data, sd->arena + sd->alen, room - 1, flags);
        if (need == 0)
            return DFDG_NOMEM;
        if (need < room) {
            *off = sd->alen;
            sd->arena[sd->alen + need] = '\0';
            sd->alen += need + 1;
            return DFDG_OK;
        }
        /* Too big for what is left: grow past it and dump again. */
        size_t nc = sd->acap + need + 65536;
        char *grown = realloc(sd->arena, nc);
        if (grown == NULL)
            return DFDG_NOMEM;
        sd->arena = grown;
        sd->acap = nc;
    }
}

static dfdg_err
arena_put(struct seeder *sd, const char *text, size_t *off)
{
    size_t n = strlen(text) + 1;
    if (sd->acap - sd->alen < n) {
        size_t nc = sd->acap * 2 + n + 65536;
        char *grown = realloc(sd->arena, nc);
        if (grown == NULL)
            return DFDG_NOMEM;
        sd->arena = grown;
        sd->acap = nc;
    }
    memcpy(sd->arena + sd->alen, text, n);
    *off = sd->alen;
    sd->alen += n;
    return DFDG_OK;
}

/*
 * The data of record rec: every required field, some optional ones, none that the reporter's
 * kind may not set; the membership and referral fields that carry the relationship are set
 * to match the record. Validated, then dumped canonically into the arena.
 */
static dfdg_err
make_data(struct seeder *sd, struct rng *r, struct plan *pl, size_t self,
          const struct membership *ended)
{
    struct srec *rec = &sd->recs[self];
    const struct dfdg_type *t = rec->ti->t;
    struct gen g = {sd, r, pl, self, rec->valid_from, 0, rec->company, rec->valid_to};
    g.kom = rec->kind == DFDG_KIND_KOMMUNE && t->subject == DFDG_SUBJECT_PERSON
                ? rec->reporter
                : residence(pl, rec->valid_from);
    json_t *data = json_object();
    if (data == NULL)
        return DFDG_NOMEM;
    dfdg_err rc = DFDG_OK;
    const struct company *actor = &sd->actors[rng_below(r, NACTORS)];
    for (size_t i = 0; i < t->nfields && rc == DFDG_OK; i++) {
        const struct dfdg_field *f = &t->fields[i];
        if (f->reporters != 0 && (f->reporters & DFDG_KIND_BIT(rec->kind)) == 0)
            continue;
        json_t *v = NULL;
        bool skip = false;
        if (rec->ti->membership && strcmp(f->name, MEMBERSHIP_START_FIELD) == 0) {
            v = date_json(rec->valid_from);
        } else if (rec->ti->membership && strcmp(f->name, MEMBERSHIP_END_FIELD) == 0) {
            if (ended == NULL)
                continue;
            v = date_json(ended->to);
        } else if (rec->ti->membership && strcmp(f->name, MEMBERSHIP_REASON_FIELD) == 0) {
            if (ended == NULL || ended->leaving[0] == '\0')
                continue;
            v = json_string(ended->leaving);
        } else if (strcmp(f->name, REFERRAL_ACTOR_FIELD) == 0 && f->type == DFDG_FT_CVR) {
            v = json_string(actor->cvr);
        } else if (strcmp(f->name, REFERRAL_ACTOR_NAME_FIELD) == 0 && f->type == DFDG_FT_STRING) {
            char buf[128];
            dfdg_strlcpy(buf, actor->name, sizeof buf);
            cut_chars(buf, f->max_length != 0 ? f->max_length : sizeof buf);
            v = json_string(buf);
        } else {
            if (!f->required && !rng_chance(r, OPTIONAL_FIELD_P))
                continue;
            v = gen_value(&g, f, &skip);
            if (skip)
                continue;
        }
        if (v == NULL || json_object_set_new(data, f->name, v) != 0)
            rc = DFDG_NOMEM;
    }
    if (rc == DFDG_OK) {
        struct dfdg_verrors ve;
        ve.n = 0;
        if (dfdg_catalog_validate_data(t, data, rec->kind, &ve) != DFDG_OK)
            rc = dfdg_errinfo_set(sd->ei, DFDG_INTERNAL,
                                  "generated data of type '%s' (reporter kind %s) fails "
                                  "validation: %s: %s (a bug in the seed)",
                                  t->code, dfdg_org_kind_name(rec->kind),
                                  ve.n > 0 ? ve.e[0].field : "?", ve.n > 0 ? ve.e[0].message : "?");
    }
    if (rc == DFDG_OK)
        rc = arena_dump(sd, data, &rec->data_off);
    json_decref(data);
    return rc;
}

/* --- records ------------------------------------------------------------------------------- */

static dfdg_err
new_rec(struct seeder *sd, size_t *out)
{
    if (sd->nrecs == sd->caprecs) {
        size_t nc = sd->caprecs * 2 + 256;
        struct srec *grown = realloc(sd->recs, nc * sizeof *grown);
        if (grown == NULL)
            return DFDG_NOMEM;
        sd->recs = grown;
        struct order *og = realloc(sd->order, nc * sizeof *og);
        if (og == NULL)
            return DFDG_NOMEM;
        sd->order = og;
        sd->caprecs = nc;
    }
    *out = sd->nrecs++;
    struct srec *rec = &sd->recs[*out];
    memset(rec, 0, sizeof *rec);
    rec->company = -1;
    rec->target = -1;
    rec->mem = -1;
    rec->valid_to = DFDG_DATE_NONE;
    return DFDG_OK;
}

/* The end of a period starting on from: weeks to two years, open when it would run past the
 * end of the history or now and then anyway. */
static int32_t
period_end(struct seeder *sd, struct rng *r, int32_t from)
{
    int32_t len =
        rng_chance(r, 0.7) ? (int32_t)rng_range(r, 14, 180) : (int32_t)rng_range(r, 181, 720);
    if (from + len > sd->last_day || rng_chance(r, 0.06))
        return DFDG_DATE_NONE;
    return from + len;
}

/* The membership records: an open one at the start, and for an ended membership either the
 * end in the record itself or (ending a period is a correction) a correction that sets it. */
static dfdg_err
membership_records(struct seeder *sd, struct rng *r, struct plan *pl)
{
    struct tinfo *ti = (struct tinfo *)sd->membership;
    for (size_t i = 0; i < pl->nmem; i++) {
        struct membership *m = &pl->mem[i];
        bool ended = m->to != DFDG_DATE_NONE;
        bool by_correction = ended && m->to >= sd->first_day && rng_chance(r, 0.7);
        size_t ix;
        dfdg_err rc = new_rec(sd, &ix);
        if (rc != DFDG_OK)
            return rc;
        struct srec *rec = &sd->recs[ix];
        rec->ti = ti;
        rec->kind = DFDG_KIND_AKASSE;
        rec->reporter = m->akasse;
        rec->valid_from = m->from;
        rec->valid_to = ended && !by_correction ? m->to : DFDG_DATE_NONE;
        rec->recorded_at = record_time(sd, r, m->from, false);
        rec->locked = true;
        rec->mem = (int)i;
        m->rec_at = rec->recorded_at;
        make_uuid(r, rec->recorded_at / 1000, rec->id);
        rc = make_data(sd, r, pl, ix, ended && !by_correction ? m : NULL);
        if (rc != DFDG_OK)
            return rc;
        ti->count++;
        if (!by_correction)
            continue;
        size_t cx;
        rc = new_rec(sd, &cx);
        if (rc != DFDG_OK)
            return rc;
        struct srec *c = &sd->recs[cx];
        *c = sd->recs[ix];
        c->rkind = DFDG_RECORD_CORRECTION;
        c->target = (int)ix;
        c->valid_to = m->to;
        int64_t at = record_time(sd, r, m->to, false);
        c->recorded_at =
            at > sd->recs[ix].recorded_at ? at : later_time(sd, r, sd->recs[ix].recorded_at);
        sd->recs[ix].succeeded = true;
        make_uuid(r, c->recorded_at / 1000, c->id);
        rc = make_data(sd, r, pl, cx, m);
        if (rc != DFDG_OK)
            return rc;
        ti->count++;
        sd->st.corrections++;
    }
    return DFDG_OK;
}

/* One original record of type ti about the person (or, for company types, a company), by a
 * reporter the report rules allow. Nothing when no reporter kind of the type can report. */
static dfdg_err
original_record(struct seeder *sd, struct rng *r, struct plan *pl, struct tinfo *ti)
{
    bool company = ti->t->subject == DFDG_SUBJECT_COMPANY;
    unsigned kinds = ti->kinds;
    int32_t mem_days = 0;
    if (!company) {
        for (size_t i = 0; i < pl->nmem; i++) {
            int32_t a, b;
            if (membership_window(sd, pl, &pl->mem[i], &a, &b))
                mem_days += b - a + 1;
        }
        if (mem_days == 0)
            kinds &= ~DFDG_KIND_BIT(DFDG_KIND_AKASSE);
    }
    if (kinds == 0 || pl->lo > sd->last_day)
        return DFDG_OK;
    enum dfdg_org_kind choice[DFDG_KIND__COUNT];
    size_t nchoice = 0;
    for (int k = 0; k < DFDG_KIND__COUNT; k++)
        if (kinds & DFDG_KIND_BIT(k))
            choice[nchoice++] = (enum dfdg_org_kind)k;

    size_t ix;
    dfdg_err rc = new_rec(sd, &ix);
    if (rc != DFDG_OK)
        return rc;
    struct srec *rec = &sd->recs[ix];
    rec->ti = ti;
    rec->kind = choice[rng_below(r, (uint32_t)nchoice)];
    if (rec->kind == DFDG_KIND_AKASSE && !company) {
        /* Report rule: an a-kasse reports on its members on valid_from. */
        int32_t x = (int32_t)rng_below(r, (uint32_t)mem_days), a = 0, b = 0;
        size_t mi = 0;
        for (; mi < pl->nmem; mi++) {
            if (!membership_window(sd, pl, &pl->mem[mi], &a, &b))
                continue;
            if (x <= b - a)
                break;
            x -= b - a + 1;
        }
        DFDG_ASSERT(mi < pl->nmem);
        rec->mem = (int)mi;
        rec->reporter = pl->mem[mi].akasse;
        rec->valid_from = pick_day(r, pl, a, b);
    } else {
        rec->valid_from = pick_day(r, pl, pl->lo, sd->last_day);
        if (rec->kind == DFDG_KIND_KOMMUNE) {
            /* Report rule: a kommune reports on its residents on valid_from (company records
             * come from the job centre of the kommune the person lives in, as it happens). */
            rec->reporter = residence(pl, rec->valid_from);
        } else if (rec->kind == DFDG_KIND_AKASSE) {
            rec->reporter =
                pl->nmem > 0 ? pl->mem[0].akasse : pick_weighted(r, sd->aks_cum, sd->naks);
        }
    }
    if (company)
        rec->company = (int)rng_below(r, NCOMPANIES);
    if (ti->period)
        rec->valid_to = period_end(sd, r, rec->valid_from);
    rec->recorded_at = record_time(sd, r, rec->valid_from, rec->kind == DFDG_KIND_CITIZEN);
    if (rec->mem >= 0 && rec->recorded_at <= pl->mem[rec->mem].rec_at)
        rec->recorded_at = later_time(sd, r, pl->mem[rec->mem].rec_at);
    make_uuid(r, rec->recorded_at / 1000, rec->id);
    rc = make_data(sd, r, pl, ix, NULL);
    if (rc == DFDG_OK)
        ti->count++;
    return rc;
}

/* Corrections and cancellations of current records, each by the target's reporter and
 * recorded after it; successors may be corrected again (a chain, never a tree). */
static dfdg_err
successors(struct seeder *sd, struct rng *r, struct plan *pl)
{
    for (size_t j = 0; j < sd->nrecs; j++) {
        if (sd->recs[j].locked || sd->recs[j].succeeded ||
            sd->recs[j].rkind == DFDG_RECORD_CANCELLATION)
            continue;
        double u = rng_unit(r);
        if (u >= CORRECTION_P + CANCELLATION_P)
            continue;
        size_t cx;
        dfdg_err rc = new_rec(sd, &cx);
        if (rc != DFDG_OK)
            return rc;
        struct srec *c = &sd->recs[cx];
        *c = sd->recs[j];
        sd->recs[j].succeeded = true;
        c->target = (int)j;
        c->succeeded = false;
        c->recorded_at = later_time(sd, r, sd->recs[j].recorded_at);
        make_uuid(r, c->recorded_at / 1000, c->id);
        if (u < CORRECTION_P) {
            c->rkind = DFDG_RECORD_CORRECTION;
            c->reason = NULL;
            /* Ending a period is a correction that sets valid_to. */
            if (c->ti->period && c->valid_to == DFDG_DATE_NONE && rng_chance(r, 0.6) &&
                c->valid_from + 7 <= sd->last_day)
                c->valid_to = (int32_t)rng_range(r, c->valid_from + 7,
                                                 min32(c->valid_from + 365, sd->last_day));
            rc = make_data(sd, r, pl, cx, NULL);
            sd->st.corrections++;
        } else {
            c->rkind = DFDG_RECORD_CANCELLATION;
            c->reason = PICK(r, cancel_reasons);
            rc = arena_put(sd, "{}", &c->data_off);
            sd->st.cancellations++;
        }
        if (rc != DFDG_OK)
            return rc;
    }
    return DFDG_OK;
}

static int
order_cmp(const void *a, const void *b)
{
    const struct order *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The reporter id of a record: the org, or for a citizen "citizen:<person_id>" (as ingest
 * records it: see dfdg_ingest_reporter_id). */
static void
reporter_org(const struct seeder *sd, const struct srec *rec, int64_t person_id, char *buf,
             size_t size)
{
    switch (rec->kind) {
    case DFDG_KIND_KOMMUNE:
        dfdg_strlcpy(buf, sd->kom[rec->reporter].org, size);
        break;
    case DFDG_KIND_AKASSE:
        dfdg_strlcpy(buf, sd->aks[rec->reporter].id, size);
        break;
    default:
        snprintf(buf, size, "citizen:%lld", (long long)person_id);
        break;
    }
}

/* Writes the person and its records, in the order they were recorded. */
static dfdg_err
write_person(struct seeder *sd, struct plan *pl)
{
    dfdg_err rc = dfdg_store_person_put(sd->s, &pl->p, sd->ei);
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(sd->ei, rc, "writing person %zu: %s", pl->index + 1,
                                dfdg_store_last_error(sd->s));
    for (size_t i = 0; i < sd->nrecs; i++)
        sd->order[i] = (struct order){sd->recs[i].recorded_at, (uint32_t)i};
    qsort(sd->order, sd->nrecs, sizeof *sd->order, order_cmp);
    char reason[128];
    for (size_t oi = 0; oi < sd->nrecs; oi++) {
        const struct srec *sr = &sd->recs[sd->order[oi].i];
        bool company = sr->company >= 0;
        struct dfdg_record rec;
        memset(&rec, 0, sizeof rec);
        dfdg_strlcpy(rec.id, sr->id, sizeof rec.id);
        dfdg_strlcpy(rec.type, sr->ti->t->code, sizeof rec.type);
        rec.person_id = company ? 0 : pl->p.person_id;
        if (company)
            dfdg_strlcpy(rec.cvr, sd->companies[sr->company].cvr, sizeof rec.cvr);
        reporter_org(sd, sr, pl->p.person_id, rec.reporter, sizeof rec.reporter);
        snprintf(rec.source_ref, sizeof rec.source_ref, "seed-%llu-%llu",
                 (unsigned long long)sd->seed, (unsigned long long)++sd->next_ref);
        rec.valid_from = sr->valid_from;
        rec.valid_to = sr->valid_to;
        rec.recorded_at = sr->recorded_at;
        rec.kind = sr->rkind;
        if (sr->target >= 0)
            dfdg_strlcpy(rec.target_id, sd->recs[sr->target].id, sizeof rec.target_id);
        rec.data = sd->arena + sr->data_off;
        if (sr->reason != NULL) {
            dfdg_strlcpy(reason, sr->reason, sizeof reason);
            rec.reason = reason;
        }

        /* The item ingest would have prepared for this request (see ingest.c). */
        struct dfdg_ingest_item it;
        memset(&it, 0, sizeof it);
        it.kind = rec.kind;
        dfdg_strlcpy(it.target_id, rec.target_id, sizeof it.target_id);
        it.data = rec.data;
        it.reason = rec.reason;
        if (rec.kind == DFDG_RECORD_CANCELLATION) {
            it.valid_from = 0;
            it.valid_to = DFDG_DATE_NONE;
        } else {
            it.type = sr->ti->t;
            if (company)
                dfdg_strlcpy(it.cvr, rec.cvr, sizeof it.cvr);
            else
                dfdg_strlcpy(it.cpr, pl->p.cpr, sizeof it.cpr);
            it.valid_from = rec.valid_from;
            it.valid_to = rec.valid_to;
        }
        dfdg_ingest_hash(&it);
        memcpy(rec.content_hash, it.content_hash, sizeof rec.content_hash);

        rc = dfdg_store_record_insert(sd->s, &rec);
        /* Routed as ingest routes it, so the recipients' feeds hold the history too. */
        dfdg_strlcpy(rec.owner, rec.reporter, sizeof rec.owner);
        if (rc == DFDG_OK)
            rc = dfdg_route_record(sd->s, sr->ti->t, &rec, rec.recorded_at, NULL);
        if (rc == DFDG_OK && rec.kind != DFDG_RECORD_ORIGINAL)
            rc = dfdg_route_follow(sd->s, &rec, rec.recorded_at, NULL);
        if (rc != DFDG_OK)
            return dfdg_errinfo_set(sd->ei, rc, "writing a record of person %zu: %s", pl->index + 1,
                                    dfdg_store_last_error(sd->s));
        sd->st.records++;
    }
    return DFDG_OK;
}

/* Makes and writes person number index. */
static dfdg_err
seed_person(struct seeder *sd, size_t index)
{
    struct rng r;
    rng_init(&r, sd->seed, (uint64_t)index + 16);
    struct plan pl;
    memset(&pl, 0, sizeof pl);
    pl.index = index;
    sd->nrecs = 0;
    sd->alen = 0;
    dfdg_err rc = make_person(sd, &r, &pl);
    if (rc != DFDG_OK)
        return rc;
    make_memberships(sd, &r, &pl);
    make_activity(sd, &r, &pl);
    rc = membership_records(sd, &r, &pl);
    if (rc != DFDG_OK)
        return rc;

    double window = pl.lo <= sd->last_day ? (double)(sd->last_day - pl.lo + 1) /
                                                (double)(sd->last_day - sd->first_day + 1)
                                          : 0.0;
    for (size_t i = 0; i < sd->nti && rc == DFDG_OK; i++) {
        struct tinfo *ti = &sd->ti[i];
        if (ti->membership || ti->kinds == 0)
            continue;
        unsigned n = rng_poisson(&r, pl.lambda * ti->weight * sd->per_weight * window);
        for (unsigned j = 0; j < n && rc == DFDG_OK; j++)
            rc = original_record(sd, &r, &pl, ti);
    }
    /* Every type of the catalog appears: one of each still missing, where the rules allow. */
    for (size_t i = 0; i < sd->nti && rc == DFDG_OK; i++)
        if (sd->ti[i].count == 0 && !sd->ti[i].membership && sd->ti[i].kinds != 0)
            rc = original_record(sd, &r, &pl, &sd->ti[i]);
    if (rc == DFDG_OK)
        rc = successors(sd, &r, &pl);
    if (rc == DFDG_OK)
        rc = write_person(sd, &pl);
    return rc;
}

/* --- the run ------------------------------------------------------------------------------- */

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
seeder_cleanup(struct seeder *sd)
{
    free(sd->kom);
    free(sd->kom_cum);
    free(sd->aks);
    free(sd->aks_cum);
    free(sd->companies);
    free(sd->ti);
    free(sd->cprs);
    free(sd->recs);
    free(sd->order);
    free(sd->arena);
}

static dfdg_err
seeder_init(struct seeder *sd, struct dfdg_store *s, const struct dfdg_catalog *cat,
            const struct dfdg_seed_opts *o, struct dfdg_errinfo *ei)
{
    memset(sd, 0, sizeof *sd);
    sd->s = s;
    sd->cat = cat;
    sd->seed = o->seed;
    sd->ei = ei;
    dfdg_err rc = dfdg_date_parse(DFDG_SEED_FIRST_DAY, 10, &sd->first_day, NULL);
    if (rc == DFDG_OK)
        rc = dfdg_date_parse(DFDG_SEED_LAST_DAY, 10, &sd->last_day, NULL);
    int32_t cap;
    if (rc == DFDG_OK)
        rc = dfdg_date_parse(DFDG_SEED_TIME_CAP, 10, &cap, NULL);
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(ei, DFDG_INTERNAL, "bad built-in dates");
    sd->time_cap = (int64_t)cap * US_PER_DAY;
    sd->migration_day = sd->first_day - 31;

    size_t want = 2 * (o->persons + o->persons / 50 + 16), cap_set = 1024;
    while (cap_set < want)
        cap_set *= 2;
    sd->cprs = calloc(cap_set, sizeof *sd->cprs);
    if (sd->cprs == NULL)
        return DFDG_NOMEM;
    sd->cpr_mask = cap_set - 1;

    rc = make_companies(sd);
    if (rc == DFDG_OK)
        rc = load_kommuner(sd);
    if (rc == DFDG_OK)
        rc = load_types(sd);
    if (rc == DFDG_OK)
        rc = load_orgs(sd);
    return rc;
}

dfdg_err
dfdg_seed_run(struct dfdg_store *s, const struct dfdg_catalog *cat, const struct dfdg_seed_opts *o,
              struct dfdg_seed_stats *out, struct dfdg_errinfo *ei)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (s == NULL || cat == NULL || o == NULL)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "no store, catalog or options");
    if (o->persons < 1 || o->persons > DFDG_SEED_MAX_PERSONS)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "the number of persons must be 1 to %u",
                                DFDG_SEED_MAX_PERSONS);
    if (sodium_init() < 0)
        return dfdg_errinfo_set(ei, DFDG_INTERNAL, "libsodium failed to initialise");
    int64_t have = 0;
    dfdg_err rc = dfdg_store_count_persons(s, &have);
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(ei, rc, "counting persons: %s", dfdg_store_last_error(s));
    if (have > 0)
        return dfdg_errinfo_set(ei, DFDG_CONFLICT,
                                "the store already holds %lld persons; seed a fresh store "
                                "(dfdg init)",
                                (long long)have);

    struct seeder sd;
    rc = seeder_init(&sd, s, cat, o, ei);
    size_t batch = o->batch != 0 ? o->batch : DFDG_SEED_BATCH;
    for (size_t done = 0; rc == DFDG_OK && done < o->persons;) {
        size_t end = done + batch < o->persons ? done + batch : o->persons;
        rc = dfdg_store_begin(s);
        if (rc != DFDG_OK) {
            dfdg_errinfo_set(ei, rc, "%s", dfdg_store_last_error(s));
            break;
        }
        struct dfdg_seed_stats before = sd.st;
        for (size_t i = done; i < end && rc == DFDG_OK; i++)
            rc = seed_person(&sd, i);
        if (rc == DFDG_OK) {
            rc = dfdg_store_commit(s);
            if (rc != DFDG_OK)
                dfdg_errinfo_set(ei, rc, "commit: %s", dfdg_store_last_error(s));
        }
        if (rc != DFDG_OK) {
            (void)dfdg_store_rollback(s);
            sd.st = before;
            break;
        }
        done = end;
        sd.st.persons = done;
        sd.st.seconds = seconds_since(&t0);
        if (o->progress != NULL)
            o->progress(&sd.st, o->persons, o->progress_ctx);
    }
    sd.st.seconds = seconds_since(&t0);
    if (out != NULL)
        *out = sd.st;
    seeder_cleanup(&sd);
    return rc;
}
