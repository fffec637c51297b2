"""One chunk of people: browsing sessions, orders, identifies rows and their truth.

Sessions are drawn as Poisson processes per person (vectorised over the chunk), expanded into
events, then split at the as-of cut into raw rows (the past) and truth rows (the future).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ._text import (
    STYLE_NAIVE,
    STYLE_OFFSET,
    STYLE_Z,
    cents_text,
    hex_ids,
    iso_timestamps,
    join,
    mix64,
    seed_key,
)
from .catalog import SITE_PAGES, Catalog
from .identity import ANON_VARIANTS, EMAIL_VARIANTS, PHONE_VARIANTS, USER_VARIANTS, ChunkIds
from .population import CURRENCIES, DAY, NEVER, PARAMS, Population, Window, pick_products
from .population import pick_subcats as _pick_subcats

EVENT_NAMES = (
    "page_view",
    "product_view",
    "add_to_cart",
    "checkout_started",
    "search",
    "app_open",
    "login",
    "order_completed",
    "plan_upgraded",
)
PV, PRV, ATC, CHK, SRCH, APP, LOGIN, OC, UPG = range(9)
K_REG, K_BURST, K_ORDER, K_UPG, K_KIOSK, K_QA = range(6)
OFFSETS_MIN = np.array([120, 60, -300, -240, 330, 600, -420, 0])
_HOURS = np.array(
    [3, 2, 1.5, 1, 1, 1.5, 2.5, 4, 5, 5.5, 6, 6, 6.5, 6.5, 6, 6, 6.5, 7, 8, 9, 9, 8, 6, 4.5]
)
HOUR_WEIGHTS = _HOURS / _HOURS.sum()


@dataclass
class Static:
    """Global dictionaries shared by every chunk."""

    event_names: pa.Array
    product_ids: pa.Array
    categories: pa.Array
    page_urls: pa.Array
    page_titles: pa.Array  # unique titles; page_title_idx maps a page to its title
    page_title_idx: np.ndarray
    properties: pa.Array
    currencies: pa.Array
    site0: int  # first site page in the page dictionary
    catpage0: int
    prodpage0: int
    prop_cart0: int
    prop_search0: int
    prop_plan: int
    prop_app0: int
    prop_login0: int
    q_first: np.ndarray
    q_count: np.ndarray


def build_static(cat: Catalog) -> Static:
    n_content = len(cat.page_urls)
    urls = list(cat.page_urls) + [u for u, _ in SITE_PAGES] + [u for u, _ in cat.category_pages]
    titles = list(cat.page_titles) + [t for _, t in SITE_PAGES] + [t for _, t in cat.category_pages]
    prodpage0 = len(urls)
    urls += [f"https://shop.example.com/p/{p}" for p in cat.product_ids]
    titles += list(cat.product_names)
    props: list[str] = []
    prop_cart0 = 0
    for pid in cat.product_ids:
        for q in (1, 2, 3):
            props.append(json.dumps({"product_id": pid, "quantity": q}))
    prop_search0 = len(props)
    props += [json.dumps({"query": q}) for q in cat.queries]
    prop_plan = len(props)
    props.append(json.dumps({"plan": "pro"}))
    prop_app0 = len(props)
    props += [json.dumps({"app_version": v}) for v in ("4.1.0", "4.2.0", "4.2.1", "5.0.0")]
    prop_login0 = len(props)
    props += [json.dumps({"method": v}) for v in ("password", "google", "apple")]
    n_sub = len(cat.subcats)
    q_first = np.searchsorted(cat.query_sub, np.arange(n_sub), side="left")
    q_count = np.searchsorted(cat.query_sub, np.arange(n_sub), side="right") - q_first
    # Parquet dictionary writing is only reproducible when dictionary values are unique
    title_values = sorted(set(titles))
    title_pos = {t: i for i, t in enumerate(title_values)}
    page_title_idx = np.array([title_pos[t] for t in titles], dtype=np.int64)
    for values in (urls, props, cat.product_ids, cat.subcats):
        assert len(set(values)) == len(values)
    return Static(
        event_names=pa.array(EVENT_NAMES),
        product_ids=pa.array(cat.product_ids),
        categories=pa.array(cat.subcats),
        page_urls=pa.array(urls),
        page_titles=pa.array(title_values),
        page_title_idx=page_title_idx,
        properties=pa.array(props),
        currencies=pa.array(CURRENCIES),
        site0=n_content,
        catpage0=n_content + len(SITE_PAGES),
        prodpage0=prodpage0,
        prop_cart0=prop_cart0,
        prop_search0=prop_search0,
        prop_plan=prop_plan,
        prop_app0=prop_app0,
        prop_login0=prop_login0,
        q_first=q_first,
        q_count=q_count,
    )


def dict_col(idx: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    idx = np.asarray(idx)
    mask = idx < 0
    indices = pa.array(np.where(mask, 0, idx).astype(np.int32), mask=mask if mask.any() else None)
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def text_col(idx: np.ndarray, dictionary: pa.Array) -> pa.Array:
    """Materialised (plain string) column from dictionary indices; negative = null."""
    return dict_col(idx, dictionary).cast(pa.string())


def _styles(rng: np.random.Generator, n: int, p_offset: float, p_naive: float):
    u = rng.random(n)
    style = np.where(
        u < p_offset, STYLE_OFFSET, np.where(u < p_offset + p_naive, STYLE_NAIVE, STYLE_Z)
    )
    return style.astype(np.int8), OFFSETS_MIN[rng.integers(0, len(OFFSETS_MIN), n)]


def _maybe_empty(rng: np.random.Generator, idx: np.ndarray, empty: int, share: float) -> np.ndarray:
    """Missing values (-1) become the empty-string entry with probability ``share``."""
    return np.where((idx < 0) & (rng.random(idx.shape[0]) < share), empty, idx)


@dataclass
class ChunkResult:
    events: pa.Table  # raw, past, dictionary-encoded
    identifies: pa.Table  # raw, past, plain strings
    orders: pa.Table  # raw, past, plain strings
    orders_t: np.ndarray  # epoch seconds of ``orders`` rows (for global sorting)
    identifies_t: np.ndarray
    future_events: pa.Table
    future_orders: pa.Table
    truth_identifiers: pa.Table
    past_orders: np.ndarray  # per person in the chunk: completed orders in the history
    past_orders_all: np.ndarray
    past_revenue: np.ndarray  # completed, USD
    user_used: np.ndarray  # per person: user id appears in a good raw row


def simulate_chunk(
    pop: Population,
    cat: Catalog,
    st: Static,
    ids: ChunkIds,
    win: Window,
    fx: np.ndarray,
    rng: np.random.Generator,
    chunk: int,
    seed: int,
) -> ChunkResult:
    lo, m = ids.lo, ids.m
    hi = lo + m
    g = np.arange(lo, hi)
    tau = PARAMS["fade_days"] * DAY

    # ---- sessions -------------------------------------------------------------------------
    acq, death = pop.acq[g], pop.death_t[g]
    t0 = np.maximum(acq, win.start)
    alive_end = np.minimum(death, win.h_end)
    dur = np.maximum(0, alive_end - t0)
    mu = pop.mu[g]
    n1 = rng.poisson(mu * dur / DAY)
    faded = death < win.h_end
    s0 = np.maximum(np.where(faded, death, win.h_end), win.start)
    da = np.where(faded, death, 0)
    a_ = np.where(faded, np.exp(-(s0 - da) / tau), 0.0)
    b_ = np.where(faded, np.exp(-(win.h_end - da) / tau), 0.0)
    n2 = rng.poisson(mu * (tau / DAY) * np.maximum(a_ - b_, 0.0))
    j1 = np.repeat(np.arange(m), n1)
    t1 = t0[j1] + (rng.random(j1.shape[0]) * dur[j1]).astype(np.int64)
    j2 = np.repeat(np.arange(m), n2)
    a2, b2 = a_[j2], b_[j2]
    t2 = (da[j2] - tau * np.log(a2 - rng.random(j2.shape[0]) * (a2 - b2))).astype(np.int64)
    t2 = np.minimum(t2, win.h_end - 1)
    # the first visit at acquisition
    j0 = np.flatnonzero(acq >= win.start)
    t0s = acq[j0]

    eng = pop.app_engaged[g]
    nb = rng.poisson(np.where(eng, dur / (60 * DAY), 0.0))
    jb = np.repeat(np.arange(m), nb)
    tb = t0[jb] + (rng.random(jb.shape[0]) * dur[jb]).astype(np.int64)

    o_lo, o_hi = pop.o_start[lo], pop.o_start[hi]
    o_idx = np.arange(o_lo, o_hi)
    o_keep = pop.o_t[o_idx] >= win.start
    o_idx = o_idx[o_keep]
    jo = pop.o_person[o_idx] - lo
    to = pop.o_t[o_idx]

    upg = pop.upg_t[g]
    ju = np.flatnonzero((upg >= win.start) & (upg < win.h_end))
    tu = upg[ju]

    def _local(people: np.ndarray) -> np.ndarray:
        return people[(people >= lo) & (people < hi)] - lo

    jk = _local(pop.kiosk_people)
    jk = np.concatenate([jk, jk[rng.random(jk.shape[0]) < 0.5]])
    rk = pop.reg_t[lo + jk]
    tk = rk + (rng.random(jk.shape[0]) * (win.t_cut - 3600 - rk)).astype(np.int64)
    jq = _local(pop.qa_people)
    aq = pop.acq[lo + jq]
    tq = aq + (rng.random(jq.shape[0]) * (win.t_cut - 3600 - aq)).astype(np.int64)

    # browsing follows a daily rhythm (UTC hour weights), never before acquisition
    def _diurnal(j: np.ndarray, t: np.ndarray) -> np.ndarray:
        hour = rng.choice(24, size=t.shape[0], p=HOUR_WEIGHTS)
        tod = hour * 3600 + rng.integers(0, 3600, t.shape[0])
        return np.maximum(t - t % DAY + tod, acq[j])

    t1, t2, tb = _diurnal(j1, t1), _diurnal(j2, t2), _diurnal(jb, tb)
    parts = [
        (j1, t1, K_REG),
        (j2, t2, K_REG),
        (j0, t0s, K_REG),
        (jb, tb, K_BURST),
        (jo, to, K_ORDER),
        (ju, tu, K_UPG),
        (jk, tk, K_KIOSK),
        (jq, tq, K_QA),
    ]
    s_j = np.concatenate([p[0] for p in parts]).astype(np.int64)
    s_t = np.concatenate([p[1] for p in parts]).astype(np.int64)
    s_kind = np.concatenate([np.full(p[0].shape[0], p[2], np.int8) for p in parts])
    s_order = np.full(s_j.shape[0], -1, dtype=np.int64)
    s_order[s_kind == K_ORDER] = np.arange(o_idx.shape[0])
    n_s = s_j.shape[0]
    sg = s_j + lo

    # device, login state, current email
    avail = (pop.dev_t[sg] <= s_t[:, None]).sum(axis=1)
    avail = np.maximum(avail, 1)
    slot = (rng.random(n_s) * avail).astype(np.int64)
    is_app = pop.dev_app[sg, slot]
    burst = s_kind == K_BURST
    app_slot = np.argmax(pop.dev_app[sg] & (np.arange(3)[None, :] < avail[:, None]), axis=1)
    slot = np.where(burst, app_slot, slot)
    slot = np.where(s_kind == K_QA, 0, slot)
    is_app = pop.dev_app[sg, slot]
    registered = pop.registered[sg] & (s_t >= pop.reg_t[sg])
    u = rng.random(n_s)
    logged = registered & (
        (s_kind == K_ORDER) | (s_kind == K_UPG) | (s_kind == K_KIOSK) | (u < 0.75)
    )
    logged &= s_kind != K_QA
    which = pop.has_email2[sg] & (s_t >= pop.email2_t[sg]) & (rng.random(n_s) < 0.8)

    # ---- events ---------------------------------------------------------------------------
    length = np.select(
        [s_kind == K_REG, s_kind == K_BURST, s_kind == K_ORDER, s_kind == K_UPG],
        [1 + np.minimum(rng.poisson(2.3, n_s), 14), rng.integers(3, 9, n_s), 4, 1],
        2,
    )
    s_off = np.zeros(n_s + 1, dtype=np.int64)
    np.cumsum(length, out=s_off[1:])
    n_e = int(s_off[-1])
    es = np.repeat(np.arange(n_s), length)
    pos = np.arange(n_e) - s_off[es]
    kind = s_kind[es]
    ej = s_j[es]
    eg = ej + lo

    et = rng.choice(
        [PV, PRV, SRCH, ATC, CHK, LOGIN], size=n_e, p=[0.30, 0.38, 0.10, 0.12, 0.04, 0.06]
    ).astype(np.int8)
    e_logged = logged[es]
    et = np.where((et == LOGIN) & ~e_logged, PV, et)
    first_reg = np.where(is_app[es], APP, PV)
    et = np.where(pos == 0, first_reg, et)
    et = np.where((pos == 1) & e_logged & (rng.random(n_e) < 0.25), LOGIN, et)
    order_seq = np.array([PRV, ATC, CHK, OC], dtype=np.int8)
    kiosk_seq = np.array([LOGIN, PRV], dtype=np.int8)
    qa_seq = np.array([LOGIN, PV], dtype=np.int8)
    p4 = np.minimum(pos, 3)
    p2 = np.minimum(pos, 1)
    et = np.select(
        [kind == K_REG, kind == K_BURST, kind == K_ORDER, kind == K_UPG, kind == K_KIOSK],
        [et, APP, order_seq[p4], UPG, kiosk_seq[p2]],
        qa_seq[p2],
    ).astype(np.int8)

    gap = rng.exponential(np.where(kind == K_BURST, 600.0, 75.0))
    gap[pos == 0] = 0.0
    cs = np.cumsum(gap)
    t_e = s_t[es] + (cs - cs[s_off[es]]).astype(np.int64)
    order_back = np.array([-540, -300, -120, 0])
    t_e = np.where(kind == K_ORDER, s_t[es] + order_back[p4], t_e)

    # what the event is about
    e_order = s_order[es]
    is_ord = e_order >= 0
    subs = _pick_subcats(rng, cat, pop.fav_sub[eg])
    product = pick_products(rng, cat, subs)
    product = np.where(
        is_ord, pop.o_product[o_idx[np.maximum(e_order, 0)]] if o_idx.size else 0, product
    )
    has_product = (et == PRV) | (et == ATC) | (et == OC)
    e_product = np.where(has_product, product, -1)
    e_category = np.where(has_product, cat.product_sub[np.maximum(product, 0)], -1)

    past = (t_e >= win.start) & (t_e < win.t_cut)
    fut = (t_e >= win.t_cut) & (t_e < win.h_end)
    sel = np.flatnonzero(past)
    sel = sel[np.lexsort((t_e[sel], ej[sel]))]
    n_p = sel.shape[0]
    # the rest only matters for the raw (past) rows
    et_p, subs_p, product_p, e_order_p = et[sel], subs[sel], product[sel], e_order[sel]
    eg_p, ej_p, kind_p, e_logged_p, es_p = eg[sel], ej[sel], kind[sel], e_logged[sel], es[sel]
    e_product_p, e_category_p = e_product[sel], e_category[sel]

    u = rng.random(n_p)
    topic = pop.fav_topic[eg_p]
    n_pages_t = np.array([len(p) for p in cat.topic_pages])
    tp0 = np.concatenate([[0], np.cumsum(n_pages_t)[:-1]])  # pages are grouped by topic
    fav_page = tp0[topic] + (rng.random(n_p) * n_pages_t[topic]).astype(np.int64)
    any_page = rng.integers(0, len(cat.page_urls), n_p)
    content_page = np.where(rng.random(n_p) < 0.75, fav_page, any_page)
    site_pick = np.where(rng.random(n_p) < 0.7, st.site0 + 0, st.site0 + 6)  # home / account
    site_pick = np.where(u < 0.75, site_pick, st.catpage0 + subs_p)
    page_view_page = np.where(u < 0.4, content_page, site_pick)
    page = np.select(
        [
            et_p == PV,
            (et_p == PRV) | (et_p == ATC),
            et_p == CHK,
            et_p == OC,
            et_p == SRCH,
            et_p == LOGIN,
        ],
        [
            page_view_page,
            st.prodpage0 + product_p,
            st.site0 + 2,
            st.site0 + 3,
            st.site0 + 4,
            st.site0 + 5,
        ],
        -1,
    )
    page = np.where(et_p == UPG, st.site0 + 7, page)

    query = st.q_first[subs_p] + (rng.random(n_p) * st.q_count[subs_p]).astype(np.int64)
    qty = 1 + (rng.random(n_p) < 0.2) + (rng.random(n_p) < 0.05)
    n_static = len(st.properties)
    prop = np.select(
        [et_p == ATC, et_p == SRCH, et_p == UPG, et_p == APP, et_p == LOGIN, et_p == OC],
        [
            st.prop_cart0 + product_p * 3 + qty - 1,
            st.prop_search0 + query,
            st.prop_plan,
            st.prop_app0 + rng.integers(0, 4, n_p),
            st.prop_login0 + rng.integers(0, 3, n_p),
            n_static + np.maximum(e_order_p, 0),
        ],
        -1,
    )

    # orders: ids, currency amounts
    n_o = o_idx.shape[0]
    order_ids = hex_ids("o_", mix64(np.uint64(seed_key(seed, 3)) + o_idx.astype(np.uint64)))
    cur = pop.o_currency[o_idx].astype(np.int64)
    day = (to // DAY - win.start_day + 1).astype(np.int64)
    rate = fx[cur, np.clip(day, 0, fx.shape[1] - 1)]
    cents = np.maximum(1, np.round(pop.o_usd[o_idx] / rate * 100)).astype(np.int64)
    amount_usd = np.round(cents / 100.0 * rate, 6)

    # identity columns on events
    e_slot = slot[es_p]
    anon = (ej_p * 3 + e_slot) * ANON_VARIANTS + (rng.random(n_p) < 0.01)
    anon = np.where(kind_p == K_KIOSK, ids.kiosk + (rng.random(n_p) < 0.05), anon)
    user = np.where(e_logged_p, ej_p * USER_VARIANTS + (rng.random(n_p) < 0.03), -1)
    user = np.where(kind_p == K_QA, ids.user_test + (rng.random(n_p) < 0.1), user)
    user = _maybe_empty(rng, user, ids.user_empty, 0.05)
    ev_var = rng.choice(3, size=n_p, p=[0.9, 0.05, 0.05])
    email = np.where(
        e_logged_p & (rng.random(n_p) < 0.15),
        (ej_p * 2 + which[es_p]) * EMAIL_VARIANTS + ev_var,
        -1,
    )
    email = _maybe_empty(rng, email, ids.email_empty, 0.03)

    # ---- raw events (past) ----------------------------------------------------------------
    key = np.uint64(seed_key(seed, 2)) + (np.uint64(chunk) << np.uint64(36))
    event_id = hex_ids("ev_", mix64(key + np.arange(n_p, dtype=np.uint64)))
    style, off = _styles(rng, n_p, 0.05, 0.01)
    revenue = np.where(et_p == OC, cents[np.maximum(e_order_p, 0)] / 100.0 if n_o else 0, np.nan)
    order_props = hex_ids("", np.zeros(0, np.uint64))
    if n_o:
        order_props = join('{"order_id": "', order_ids, '"}')
    props_dict = pa.concat_arrays([st.properties, order_props])
    events = pa.table(
        {
            "event_id": event_id,
            "event_name": dict_col(et_p, st.event_names),
            "occurred_at": iso_timestamps(t_e[sel], style, off),
            "anonymous_id": dict_col(anon, ids.anon_dict),
            "user_id": dict_col(user, ids.user_dict),
            "email": dict_col(email, ids.email_dict),
            "product_id": dict_col(e_product_p, st.product_ids),
            "product_category": dict_col(e_category_p, st.categories),
            "page_url": dict_col(page, st.page_urls),
            "page_title": dict_col(
                np.where(page >= 0, st.page_title_idx[np.maximum(page, 0)], -1), st.page_titles
            ),
            "revenue": pa.array(revenue, mask=np.isnan(revenue)),
            "currency": dict_col(
                np.where(et_p == OC, cur[np.maximum(e_order_p, 0)] if n_o else 0, -1),
                st.currencies,
            ),
            "properties": dict_col(prop, props_dict),
        }
    )

    # ---- future events (truth) ------------------------------------------------------------
    fsel = np.flatnonzero(fut)
    fsel = fsel[np.lexsort((t_e[fsel], ej[fsel]))]
    future_events = pa.table(
        {
            "person_id": pa.array(eg[fsel].astype(np.int64)),
            "event_name": dict_col(et[fsel], st.event_names),
            "occurred_at": pa.array(t_e[fsel], type=pa.timestamp("s", tz="UTC")),
            "product_category": dict_col(e_category[fsel], st.categories),
        }
    )

    # ---- identifies -----------------------------------------------------------------------
    first_act = np.full(m, NEVER, dtype=np.int64)
    np.minimum.at(first_act, ej[sel], t_e[sel])
    rows_j: list[np.ndarray] = []
    rows_t: list[np.ndarray] = []
    rows_anon: list[np.ndarray] = []
    rows_user: list[np.ndarray] = []
    rows_email: list[np.ndarray] = []
    rows_phone: list[np.ndarray] = []

    def add(j, t, anon_i, user_i, email_i, phone_i):
        rows_j.append(j)
        rows_t.append(t)
        rows_anon.append(anon_i)
        rows_user.append(user_i)
        rows_email.append(email_i)
        rows_phone.append(phone_i)

    regd = np.flatnonzero(pop.registered[g])
    rg = regd + lo
    neg = np.full(regd.shape[0], -1)
    phone_v = regd * PHONE_VARIANTS + rng.integers(0, PHONE_VARIANTS, regd.shape[0])
    add(
        regd,
        pop.reg_t[rg],
        regd * 3 * ANON_VARIANTS,
        regd * USER_VARIANTS,
        (regd * 2) * EMAIL_VARIANTS + rng.choice(3, size=regd.shape[0], p=[0.8, 0.1, 0.1]),
        np.where(pop.has_phone[rg], phone_v, -1),
    )
    for k in (1, 2):
        has_k = pop.dev_t[rg, k] < win.t_cut
        jj = regd[has_k]
        tt = np.maximum(pop.dev_t[rg[has_k], k], pop.reg_t[rg[has_k]]) + 30
        add(
            jj,
            tt,
            (jj * 3 + k) * ANON_VARIANTS,
            jj * USER_VARIANTS,
            neg[: jj.shape[0]],
            neg[: jj.shape[0]],
        )
    e2 = pop.has_email2[rg] & (pop.email2_t[rg] < win.t_cut)
    jj = regd[e2]
    add(
        jj,
        pop.email2_t[rg[e2]],
        jj * 3 * ANON_VARIANTS,
        jj * USER_VARIANTS,
        (jj * 2 + 1) * EMAIL_VARIANTS,
        neg[: jj.shape[0]],
    )
    # facts from before the history move to the person's first activity in it (or vanish)
    f_j = np.concatenate(rows_j)
    f_t = np.concatenate(rows_t)
    f_t = np.where(f_t < win.start, first_act[f_j], f_t)
    rows_t = [f_t]
    rows_j = [f_j]
    rows_anon = [np.concatenate(rows_anon)]
    rows_user = [np.concatenate(rows_user)]
    rows_email = [np.concatenate(rows_email)]
    rows_phone = [np.concatenate(rows_phone)]
    # random logins
    s_past = (s_t >= win.start) & (s_t < win.t_cut)
    lg = np.flatnonzero(s_past & logged & (s_kind == K_REG) & (rng.random(n_s) < 0.2))
    jl = s_j[lg]
    add(
        jl,
        s_t[lg],
        (jl * 3 + slot[lg]) * ANON_VARIANTS + (rng.random(lg.shape[0]) < 0.02),
        jl * USER_VARIANTS + (rng.random(lg.shape[0]) < 0.03),
        np.where(
            rng.random(lg.shape[0]) < 0.4,
            (jl * 2 + which[lg]) * EMAIL_VARIANTS + rng.integers(0, 3, lg.shape[0]),
            -1,
        ),
        np.where(
            pop.has_phone[jl + lo] & (rng.random(lg.shape[0]) < 0.2),
            jl * PHONE_VARIANTS + rng.integers(0, PHONE_VARIANTS, lg.shape[0]),
            -1,
        ),
    )
    # shared identifiers: kiosk logins, QA logins, null@example.com
    ks = np.flatnonzero(s_kind == K_KIOSK)
    add(
        s_j[ks],
        s_t[ks],
        np.full(ks.shape[0], ids.kiosk),
        s_j[ks] * USER_VARIANTS,
        np.full(ks.shape[0], -1),
        np.full(ks.shape[0], -1),
    )
    qs = np.flatnonzero(s_kind == K_QA)
    add(
        s_j[qs],
        s_t[qs],
        s_j[qs] * 3 * ANON_VARIANTS,
        np.full(qs.shape[0], ids.user_test),
        np.full(qs.shape[0], -1),
        np.full(qs.shape[0], -1),
    )
    jn = _local(pop.null_email_people)
    rn = pop.reg_t[lo + jn]
    tn = rn + (rng.random(jn.shape[0]) * (win.t_cut - 3600 - rn)).astype(np.int64)
    add(
        jn,
        tn,
        jn * 3 * ANON_VARIANTS,
        jn * USER_VARIANTS,
        ids.email_null + rng.integers(0, 3, jn.shape[0]),
        np.full(jn.shape[0], -1),
    )

    i_j = np.concatenate(rows_j)
    i_t = np.concatenate(rows_t)
    ok = (i_t >= win.start) & (i_t < win.t_cut)
    order_i = np.flatnonzero(ok)
    order_i = order_i[np.lexsort((i_j[order_i], i_t[order_i]))]
    i_anon = np.concatenate(rows_anon)[order_i]
    i_user = np.concatenate(rows_user)[order_i]
    i_email = np.concatenate(rows_email)[order_i]
    i_phone = np.concatenate(rows_phone)[order_i]
    i_t = i_t[order_i]
    n_i = order_i.shape[0]
    st_i, off_i = _styles(rng, n_i, 0.05, 0.05)
    identifies = pa.table(
        {
            "anonymous_id": text_col(_maybe_empty(rng, i_anon, ids.anon_empty, 0.1), ids.anon_dict),
            "user_id": text_col(_maybe_empty(rng, i_user, ids.user_empty, 0.1), ids.user_dict),
            "email": text_col(_maybe_empty(rng, i_email, ids.email_empty, 0.1), ids.email_dict),
            "phone": text_col(_maybe_empty(rng, i_phone, ids.phone_empty, 0.1), ids.phone_dict),
            "observed_at": iso_timestamps(i_t, st_i, off_i),
        }
    )

    # ---- orders ---------------------------------------------------------------------------
    so = np.flatnonzero(s_kind == K_ORDER)  # sessions in o_idx order
    o_logged = logged[so]
    o_slot = slot[so]
    o_which = which[so]
    o_past = (to >= win.start) & (to < win.t_cut)
    o_user = np.where(o_logged, jo * USER_VARIANTS + (rng.random(n_o) < 0.03), -1)
    o_email = np.where(
        o_logged & (rng.random(n_o) < 0.7),
        (jo * 2 + o_which) * EMAIL_VARIANTS + rng.choice(3, size=n_o, p=[0.85, 0.1, 0.05]),
        -1,
    )
    null_p = np.isin(jo, jn)
    o_email = np.where(null_p & o_logged & (rng.random(n_o) < 0.5), ids.email_null, o_email)
    o_anon = np.where(
        ~o_logged | (rng.random(n_o) < 0.5),
        (jo * 3 + o_slot) * ANON_VARIANTS + (rng.random(n_o) < 0.02),
        -1,
    )
    po = np.flatnonzero(o_past)
    st_o, off_o = _styles(rng, po.shape[0], 0.05, 0.1)
    status_text = pa.array(["completed", "refunded", "cancelled", ""])
    orders = pa.table(
        {
            "order_id": order_ids.take(pa.array(po)),
            "user_id": text_col(_maybe_empty(rng, o_user[po], ids.user_empty, 0.1), ids.user_dict),
            "email": text_col(_maybe_empty(rng, o_email[po], ids.email_empty, 0.1), ids.email_dict),
            "anonymous_id": text_col(
                _maybe_empty(rng, o_anon[po], ids.anon_empty, 0.1), ids.anon_dict
            ),
            "ordered_at": iso_timestamps(to[po], st_o, off_o),
            "amount": cents_text(cents[po]),
            "currency": text_col(cur[po], st.currencies),
            "status": text_col(pop.o_status[o_idx[po]].astype(np.int64), status_text),
        }
    )
    status = pop.o_status[o_idx]
    completed = (status == 0) | (status == 3)
    past_orders = np.bincount(jo[o_past & completed], minlength=m)
    past_orders_all = np.bincount(jo[o_past], minlength=m)
    past_revenue = np.bincount(
        jo[o_past & completed], weights=amount_usd[o_past & completed], minlength=m
    )
    fo = np.flatnonzero(to >= win.t_cut)
    status_names = pa.array(["completed", "refunded", "cancelled", "completed"])
    future_orders = pa.table(
        {
            "person_id": pa.array((jo[fo] + lo).astype(np.int64)),
            "order_id": order_ids.take(pa.array(fo)),
            "ordered_at": pa.array(to[fo], type=pa.timestamp("s", tz="UTC")),
            "amount_usd": pa.array(amount_usd[fo]),
            "status": text_col(status[fo].astype(np.int64), status_names),
            "product_category": text_col(
                cat.product_sub[pop.o_product[o_idx[fo]]].astype(np.int64), st.categories
            ),
        }
    )

    # ---- truth identifiers: every person identifier present in a good raw row ---------------
    def used(values: list[np.ndarray], limit: int, per: int, size: int) -> np.ndarray:
        v = np.concatenate(values)
        v = v[(v >= 0) & (v < limit)] // per
        flags = np.zeros(size, dtype=bool)
        flags[v] = True
        return flags

    a_used = used([anon, i_anon, o_anon[po]], ids.kiosk, ANON_VARIANTS, m * 3)
    u_used = used([user, i_user, o_user[po]], ids.user_test, USER_VARIANTS, m)
    e_used = used([email, i_email, o_email[po]], ids.email_null, EMAIL_VARIANTS, m * 2)
    p_used = used([i_phone], ids.phone_empty, PHONE_VARIANTS, m)
    pieces = []
    for name, flags, values, per in (
        ("anonymous_id", a_used, ids.anon_clean, 3),
        ("user_id", u_used, ids.user_clean, 1),
        ("email", e_used, ids.email_clean, 2),
        ("phone", p_used, ids.phone_clean, 1),
    ):
        w = np.flatnonzero(flags)
        pieces.append(
            pa.table(
                {
                    "identifier_type": pa.array([name] * w.shape[0], type=pa.string()),
                    "identifier_value": values.take(pa.array(w)),
                    "person_id": pa.array((w // per + lo).astype(np.int64)),
                }
            )
        )
    return ChunkResult(
        events=events,
        identifies=identifies,
        orders=orders,
        orders_t=to[po],
        identifies_t=i_t,
        future_events=future_events,
        future_orders=future_orders,
        truth_identifiers=pa.concat_tables(pieces),
        past_orders=past_orders,
        past_orders_all=past_orders_all,
        past_revenue=past_revenue,
        user_used=u_used,
    )
