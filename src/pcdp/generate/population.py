"""True people: acquisition, buy-till-you-die parameters, identities and their orders.

All person-level quantities are drawn once, vectorised over every person, from one generator.
The purchase process is BG/NBD: while alive a person buys as a Poisson process with rate
``lam`` (per day, lam ~ Gamma(r, 1/alpha)); after every purchase they drop out with probability
``p`` (p ~ Beta(a, b)). Spend per order is Gamma-Gamma: each person has a mean spend
``shape_p / nu`` with nu ~ Gamma(q, 1/gamma), orders scatter around it with Gamma(shape_p).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .catalog import CATEGORY_TOPIC, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, Catalog

DAY = 86_400
NEVER = np.iinfo(np.int64).max // 4

PARAMS: dict[str, float] = {
    "r": 0.55,  # shape of the purchase-rate gamma
    "alpha": 110.0,  # scale (days) of the purchase-rate gamma: mean rate r / alpha per day
    "a": 0.9,  # dropout beta
    "b": 4.5,
    "spend_shape": 4.0,  # Gamma-Gamma: shape of an order around the person's mean
    "spend_q": 4.0,  # Gamma-Gamma: shape of the person's nu
    "spend_gamma": 60.0,  # Gamma-Gamma: scale of nu; mean spend = spend_shape * gamma / (q - 1)
    "registered_share": 0.65,
    "sessions_per_day": 0.038,  # base browsing sessions a day at average engagement
    "fade_days": 30.0,  # browsing fades with this time constant after dropping out
}

COUNTRIES = ("US", "EU", "UK")
CURRENCIES = ("USD", "EUR", "GBP")
STATUSES = ("completed", "refunded", "cancelled", "")


@dataclass
class Window:
    start: int  # first second of the history
    t_cut: int  # first second after the as-of date (as_of + 1 day, 00:00 UTC)
    h_end: int  # end of the simulated future
    start_day: int  # days since the epoch of ``start``


@dataclass
class Population:
    n: int
    acq: np.ndarray
    country: np.ndarray
    registered: np.ndarray
    n_dev: np.ndarray
    dev_t: np.ndarray  # (n, 3) first use of each device, NEVER if the device does not exist
    dev_app: np.ndarray  # (n, 3)
    lam: np.ndarray
    p: np.ndarray
    spend_mean: np.ndarray
    engagement: np.ndarray
    mu: np.ndarray  # browsing sessions a day while alive
    app_engaged: np.ndarray
    fav_sub: np.ndarray
    fav_top: np.ndarray
    fav_topic: np.ndarray
    reg_t: np.ndarray
    has_email2: np.ndarray
    email2_t: np.ndarray
    has_phone: np.ndarray
    upg_t: np.ndarray
    user_num: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    domain: np.ndarray
    domain2: np.ndarray
    death_t: np.ndarray  # NEVER when alive through the simulated horizon
    # orders, sorted by (person, time)
    o_person: np.ndarray
    o_t: np.ndarray
    o_usd: np.ndarray  # intended spend in USD (before currency rounding)
    o_product: np.ndarray
    o_status: np.ndarray
    o_currency: np.ndarray
    o_start: np.ndarray = field(repr=False)  # (n + 1) offsets of each person's orders
    # planted shared identifiers: the people who use them
    kiosk_people: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    null_email_people: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    qa_people: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def pick_subcats(rng: np.random.Generator, cat: Catalog, fav_sub: np.ndarray) -> np.ndarray:
    """A subcategory per product interaction: favourite 50 %, rest of its top 20 %, any 30 %."""
    n = fav_sub.shape[0]
    n_sub = len(cat.subcats)
    top = cat.subcat_top[fav_sub]
    first = np.searchsorted(cat.subcat_top, top, side="left")
    count = np.searchsorted(cat.subcat_top, top, side="right") - first
    u = rng.random(n)
    same_top = first + (rng.random(n) * count).astype(np.int64)
    anywhere = rng.integers(0, n_sub, n)
    return np.where(u < 0.5, fav_sub, np.where(u < 0.7, same_top, anywhere)).astype(np.int32)


def pick_products(rng: np.random.Generator, cat: Catalog, subs: np.ndarray) -> np.ndarray:
    pps = len(cat.product_ids) // len(cat.subcats)
    return (subs.astype(np.int64) * pps + rng.integers(0, pps, subs.shape[0])).astype(np.int32)


def _shared_count(n: int) -> int:
    return int(max(32, min(200, n // 5000)))


def draw_population(rng: np.random.Generator, n: int, win: Window, cat: Catalog) -> Population:
    P = PARAMS
    days = (win.t_cut - win.start) / DAY
    first = win.start - int(0.2 * days) * DAY
    acq = (first + rng.random(n) * (win.t_cut - 1 - first)).astype(np.int64)
    country = rng.choice(3, size=n, p=[0.85, 0.08, 0.07]).astype(np.int8)
    registered = rng.random(n) < P["registered_share"]
    n_dev = np.where(registered, rng.choice([1, 2, 3], size=n, p=[0.5, 0.35, 0.15]), 1)
    dev_t = np.full((n, 3), NEVER, dtype=np.int64)
    dev_t[:, 0] = acq
    later = acq[:, None] + (rng.random((n, 2)) * (win.h_end - acq)[:, None] * 0.8).astype(np.int64)
    later.sort(axis=1)
    dev_t[:, 1:] = np.where(np.arange(1, 3)[None, :] < n_dev[:, None], later, NEVER)
    dev_app = rng.random((n, 3)) < 0.35

    lam = rng.gamma(P["r"], 1.0 / P["alpha"], n)
    p = rng.beta(P["a"], P["b"], n)
    nu = rng.gamma(P["spend_q"], 1.0 / P["spend_gamma"], n)
    spend_mean = P["spend_shape"] / nu
    engagement = rng.gamma(1.5, 1.0 / 1.5, n)
    lam_mean = P["r"] / P["alpha"]
    mu = P["sessions_per_day"] * engagement * (0.35 + 0.65 * np.sqrt(lam / lam_mean))
    app_engaged = rng.random(n) < np.where(dev_app[:, 0], 0.3, 0.08)

    # favourite category: a skewed popularity over subcategories
    n_sub = len(cat.subcats)
    pop = rng.gamma(2.0, 1.0, n_sub)
    fav_sub = rng.choice(n_sub, size=n, p=pop / pop.sum()).astype(np.int32)
    fav_top = cat.subcat_top[fav_sub]
    matched = np.array([cat.topics.index(CATEGORY_TOPIC[t]) for t in cat.tops])[fav_top]
    tpop = rng.gamma(3.0, 1.0, len(cat.topics))
    other = rng.choice(len(cat.topics), size=n, p=tpop / tpop.sum())
    fav_topic = np.where(rng.random(n) < 0.4, matched, other).astype(np.int32)

    # purchases: M Poisson arrivals over the whole simulated life, dropout after the N-th
    life_days = (win.h_end - acq) / DAY
    m = rng.poisson(lam * life_days)
    n_until_drop = rng.geometric(p)
    k = np.minimum(m, n_until_drop)
    dead = n_until_drop <= m
    rep = np.repeat(np.arange(n), m)
    u = rng.random(rep.shape[0])
    order = np.lexsort((u, rep))
    u = u[order]
    m_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(m, out=m_start[1:])
    rank = np.arange(rep.shape[0]) - m_start[rep]
    keep = rank < k[rep]
    o_person = rep[keep]
    o_t = acq[o_person] + (u[keep] * (win.h_end - acq[o_person])).astype(np.int64)
    o_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(k, out=o_start[1:])
    death_t = np.full(n, NEVER, dtype=np.int64)
    has = k > 0
    death_t[dead & has] = o_t[o_start[1:][dead & has] - 1]

    n_o = o_person.shape[0]
    o_usd = rng.gamma(P["spend_shape"], spend_mean[o_person] / P["spend_shape"], n_o)
    o_usd = np.clip(o_usd, 4.0, 20_000.0)
    o_product = pick_products(rng, cat, pick_subcats(rng, cat, fav_sub[o_person]))
    o_status = rng.choice(4, size=n_o, p=[0.90, 0.05, 0.02, 0.03]).astype(np.int8)
    cur_of_country = np.array([0, 1, 2], dtype=np.int8)
    o_currency = np.where(rng.random(n_o) < 0.95, cur_of_country[country[o_person]], 0)
    o_currency = o_currency.astype(np.int8)

    # registration: shortly after acquisition, at the latest just before the first order
    reg_t = acq + rng.exponential(10 * DAY, n).astype(np.int64)
    first_order = np.full(n, NEVER, dtype=np.int64)
    first_order[has] = o_t[o_start[:-1][has]]
    reg_t = np.maximum(acq, np.minimum(reg_t, first_order - 60))
    reg_t = np.minimum(reg_t, win.t_cut - 1)
    reg_t = np.where(registered, reg_t, NEVER)
    has_email2 = registered & (rng.random(n) < 0.15)
    email2_t = np.where(
        has_email2, reg_t + (rng.random(n) * (win.h_end - np.minimum(reg_t, win.h_end))), NEVER
    ).astype(np.int64)
    has_phone = registered & (rng.random(n) < 0.30)
    hazard = 0.0004 * engagement * (lam / lam_mean) ** 0.3  # plan upgrades a day
    upg_t = reg_t + rng.exponential(1.0, n) / np.maximum(hazard, 1e-9) * DAY
    upg_ok = registered & (upg_t < np.minimum(death_t + 30 * DAY, win.h_end))
    upg_t = np.where(upg_ok, upg_t, NEVER).astype(np.int64)

    user_num = rng.permutation(n).astype(np.int64) + 1001
    pop_ = Population(
        n=n,
        acq=acq,
        country=country,
        registered=registered,
        n_dev=n_dev.astype(np.int8),
        dev_t=dev_t,
        dev_app=dev_app,
        lam=lam,
        p=p,
        spend_mean=spend_mean,
        engagement=engagement,
        mu=mu,
        app_engaged=app_engaged,
        fav_sub=fav_sub,
        fav_top=fav_top.astype(np.int32),
        fav_topic=fav_topic,
        reg_t=reg_t,
        has_email2=has_email2,
        email2_t=email2_t,
        has_phone=has_phone,
        upg_t=upg_t,
        user_num=user_num,
        first_name=rng.integers(0, len(FIRST_NAMES), n).astype(np.int16),
        last_name=rng.integers(0, len(LAST_NAMES), n).astype(np.int16),
        domain=rng.integers(0, len(EMAIL_DOMAINS), n).astype(np.int16),
        domain2=rng.integers(0, len(EMAIL_DOMAINS), n).astype(np.int16),
        death_t=death_t,
        o_person=o_person,
        o_t=o_t,
        o_usd=o_usd,
        o_product=o_product,
        o_status=o_status,
        o_currency=o_currency,
        o_start=o_start,
    )
    # planted shared identifiers, each used by people registered inside the history
    k_sh = _shared_count(n)
    in_window = np.flatnonzero(registered & (reg_t >= win.start) & (reg_t < win.t_cut - 2 * DAY))
    if in_window.shape[0] >= 2 * k_sh:
        chosen = rng.choice(in_window, size=2 * k_sh, replace=False)
        pop_.kiosk_people = np.sort(chosen[:k_sh])
        pop_.null_email_people = np.sort(chosen[k_sh:])
    recent = np.flatnonzero(acq >= win.start)
    if recent.shape[0] >= k_sh:
        pop_.qa_people = np.sort(rng.choice(recent, size=k_sh, replace=False))
    return pop_
