"""Static catalogues: product taxonomy, editorial content pages, names and word lists.

Everything here is built from fixed word lists with a seeded generator, so the same seed
gives the same catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

SITE = "https://shop.example.com"

# top category -> subcategory -> product nouns (also used as search queries)
TAXONOMY: dict[str, dict[str, list[str]]] = {
    "Apparel": {
        "Shoes": ["Running Shoe", "Sneaker", "Trail Shoe", "Loafer", "Ankle Boot"],
        "Jackets": ["Rain Jacket", "Down Jacket", "Denim Jacket", "Fleece", "Windbreaker"],
        "T-Shirts": ["Crew Tee", "V-Neck Tee", "Graphic Tee", "Long Sleeve Tee"],
        "Accessories": ["Leather Belt", "Wool Scarf", "Beanie", "Sunglasses", "Backpack"],
    },
    "Electronics": {
        "Phones": ["Smartphone", "Phone Case", "Fast Charger", "Screen Protector"],
        "Laptops": ["Ultrabook", "Gaming Laptop", "Laptop Stand", "USB-C Dock"],
        "Headphones": ["Wireless Earbuds", "Over-Ear Headphones", "Noise Cancelling Headset"],
        "Cameras": ["Mirrorless Camera", "Action Camera", "Camera Lens", "Tripod"],
        "Smart Home": ["Smart Speaker", "Smart Bulb", "Video Doorbell", "Smart Thermostat"],
    },
    "Home & Garden": {
        "Furniture": ["Armchair", "Coffee Table", "Bookshelf", "Desk Chair", "Sofa"],
        "Kitchen": ["Chef Knife", "Cast Iron Pan", "Blender", "Espresso Machine"],
        "Bedding": ["Duvet Cover", "Pillow Set", "Weighted Blanket", "Mattress Topper"],
        "Garden Tools": ["Pruning Shears", "Garden Hose", "Raised Bed", "Lawn Mower"],
    },
    "Sports & Outdoors": {
        "Cycling": ["Road Bike", "Bike Helmet", "Bike Light", "Cycling Jersey"],
        "Running": ["Running Vest", "GPS Watch", "Running Tights", "Hydration Belt"],
        "Camping": ["Tent", "Sleeping Bag", "Camp Stove", "Headlamp"],
        "Fitness": ["Yoga Mat", "Kettlebell", "Resistance Bands", "Foam Roller"],
    },
    "Beauty": {
        "Skincare": ["Moisturiser", "Face Serum", "Sunscreen", "Cleanser"],
        "Makeup": ["Mascara", "Lipstick", "Foundation", "Eyeshadow Palette"],
        "Fragrance": ["Eau de Parfum", "Body Mist", "Cologne"],
    },
    "Books": {
        "Fiction": ["Mystery Novel", "Fantasy Saga", "Literary Novel", "Thriller"],
        "Non-Fiction": ["Biography", "History Book", "Science Book", "Memoir"],
        "Children's Books": ["Picture Book", "Bedtime Stories", "Activity Book"],
        "Cookbooks": ["Baking Cookbook", "Vegetarian Cookbook", "Weeknight Cookbook"],
    },
    "Toys": {
        "Board Games": ["Strategy Game", "Party Game", "Card Game", "Family Board Game"],
        "Building Sets": ["Brick Set", "Marble Run", "Robot Kit"],
        "Puzzles": ["Jigsaw Puzzle", "3D Puzzle", "Brain Teaser"],
    },
    "Food & Grocery": {
        "Coffee": ["Whole Bean Coffee", "Ground Coffee", "Coffee Pods", "Cold Brew"],
        "Tea": ["Green Tea", "Earl Grey", "Herbal Tea", "Matcha"],
        "Snacks": ["Trail Mix", "Dark Chocolate", "Granola Bars", "Kettle Chips"],
        "Pantry": ["Olive Oil", "Pasta", "Hot Sauce", "Spice Set"],
    },
}

BRANDS = [
    "Northpeak",
    "Altura",
    "Bramble",
    "Cobalt",
    "Driftwood",
    "Everline",
    "Foxglove",
    "Granite",
    "Harbor",
    "Ironleaf",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Nimbus",
    "Oakridge",
    "Pinecrest",
    "Quill",
    "Redwood",
    "Solstice",
    "Tidewater",
    "Umber",
    "Vantage",
    "Willow",
]
ADJECTIVES = [
    "Classic",
    "Pro",
    "Lite",
    "Essential",
    "Premium",
    "Everyday",
    "Compact",
    "Ultra",
    "Original",
    "Signature",
    "Heritage",
    "Urban",
    "Active",
    "Deluxe",
    "Eco",
]

# IAB Content Taxonomy tier-1 topics -> (subjects, angles, extra keywords)
TOPICS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "Technology & Computing": (
        [
            "laptops",
            "smartphones",
            "home wifi",
            "password managers",
            "cloud backup",
            "mechanical keyboards",
            "smart home hubs",
            "noise-cancelling headphones",
            "open-source software",
            "AI assistants",
            "USB-C chargers",
            "gaming PCs",
        ],
        [
            "battery life",
            "privacy settings",
            "setup",
            "performance",
            "security updates",
            "value for money",
            "troubleshooting",
            "accessories",
        ],
        ["tech", "gadgets", "software", "hardware", "computing", "digital"],
    ),
    "Sports": (
        [
            "marathon training",
            "road cycling",
            "trail running",
            "strength training",
            "football season",
            "tennis technique",
            "swimming drills",
            "climbing",
            "recovery days",
            "home workouts",
            "triathlon",
            "yoga for athletes",
        ],
        [
            "training plans",
            "nutrition",
            "injury prevention",
            "gear",
            "pacing",
            "race day",
            "motivation",
            "stretching",
        ],
        ["sports", "fitness", "athletes", "training", "competition", "exercise"],
    ),
    "Food & Drink": (
        [
            "espresso at home",
            "sourdough bread",
            "weeknight pasta",
            "cold brew coffee",
            "loose leaf tea",
            "meal prep",
            "vegetarian dinners",
            "natural wine",
            "cast iron cooking",
            "homemade pizza",
            "spice blends",
            "brunch recipes",
        ],
        [
            "recipes",
            "ingredients",
            "techniques",
            "equipment",
            "flavour pairings",
            "shopping tips",
            "storage",
            "seasonal produce",
        ],
        ["food", "cooking", "recipes", "drinks", "kitchen", "baking"],
    ),
    "Travel": (
        [
            "city breaks",
            "packing light",
            "road trips",
            "national parks",
            "travel insurance",
            "long-haul flights",
            "train travel in Europe",
            "beach holidays",
            "budget hotels",
            "travelling with kids",
            "solo travel",
            "ski resorts",
        ],
        [
            "itineraries",
            "budgets",
            "booking tips",
            "what to pack",
            "local food",
            "getting around",
            "best seasons",
            "hidden gems",
        ],
        ["travel", "holidays", "destinations", "flights", "hotels", "trips"],
    ),
    "Style & Fashion": (
        [
            "capsule wardrobes",
            "running shoes",
            "winter jackets",
            "denim",
            "sneaker culture",
            "workwear",
            "sustainable fashion",
            "accessories",
            "knitwear",
            "street style",
            "tailoring",
            "summer dresses",
        ],
        [
            "fit",
            "fabrics",
            "colour palettes",
            "care tips",
            "styling ideas",
            "trends",
            "sizing",
            "seasonal edits",
        ],
        ["fashion", "style", "clothing", "outfits", "wardrobe", "trends"],
    ),
    "Home & Garden": (
        [
            "small apartments",
            "houseplants",
            "raised garden beds",
            "home offices",
            "kitchen organisation",
            "bedroom makeovers",
            "composting",
            "lawn care",
            "outdoor lighting",
            "minimalist interiors",
            "DIY shelving",
            "balcony gardens",
        ],
        [
            "layouts",
            "budgets",
            "tools",
            "materials",
            "seasonal jobs",
            "storage ideas",
            "colour schemes",
            "maintenance",
        ],
        ["home", "garden", "interiors", "DIY", "decor", "gardening"],
    ),
    "Personal Finance": (
        [
            "emergency funds",
            "index funds",
            "household budgets",
            "credit scores",
            "retirement savings",
            "mortgages",
            "side incomes",
            "student loans",
            "saving for a holiday",
            "tax returns",
            "subscriptions",
            "first paychecks",
        ],
        [
            "rules of thumb",
            "common mistakes",
            "tools",
            "interest rates",
            "planning",
            "automation",
            "fees",
            "long-term goals",
        ],
        ["money", "finance", "saving", "investing", "budgeting", "banking"],
    ),
    "Healthy Living": (
        [
            "better sleep",
            "mindfulness",
            "skincare routines",
            "hydration",
            "daily walks",
            "healthy snacks",
            "screen time",
            "posture at work",
            "stress management",
            "sun protection",
            "morning routines",
            "plant-based eating",
        ],
        [
            "habits",
            "science",
            "routines",
            "beginner tips",
            "myths",
            "small changes",
            "tracking progress",
            "wellbeing",
        ],
        ["health", "wellness", "wellbeing", "self-care", "lifestyle", "nutrition"],
    ),
    "Automotive": (
        [
            "electric cars",
            "winter tyres",
            "road trip prep",
            "car maintenance",
            "hybrid vehicles",
            "EV charging at home",
            "used car buying",
            "dash cams",
            "car insurance",
            "roof racks",
            "bike carriers",
            "fuel economy",
        ],
        [
            "costs",
            "checklists",
            "range",
            "safety",
            "buying advice",
            "servicing",
            "accessories",
            "common faults",
        ],
        ["cars", "automotive", "driving", "vehicles", "motoring", "EV"],
    ),
    "Books and Literature": (
        [
            "mystery novels",
            "fantasy series",
            "book clubs",
            "reading habits",
            "classic literature",
            "audiobooks",
            "poetry",
            "memoirs",
            "science fiction",
            "children's books",
            "literary prizes",
            "historical fiction",
        ],
        [
            "reading lists",
            "authors",
            "themes",
            "where to start",
            "hidden classics",
            "adaptations",
            "recommendations",
            "new releases",
        ],
        ["books", "reading", "literature", "novels", "authors", "fiction"],
    ),
}

# favourite top category -> the content topic people who like it tend to read
CATEGORY_TOPIC = {
    "Apparel": "Style & Fashion",
    "Electronics": "Technology & Computing",
    "Home & Garden": "Home & Garden",
    "Sports & Outdoors": "Sports",
    "Beauty": "Healthy Living",
    "Books": "Books and Literature",
    "Toys": "Books and Literature",
    "Food & Grocery": "Food & Drink",
}

TITLE_TEMPLATES = [
    "The {adj} guide to {subject}",
    "{n} things nobody tells you about {subject}",
    "How to get started with {subject}",
    "{Subject}: {angle} explained",
    "What we learned after a month of {subject}",
    "{n} {angle} tips for {subject}",
    "Is it worth it? An honest look at {subject}",
    "{Subject} on a budget",
    "Everything you need to know about {subject} and {angle}",
    "Why {subject} matter more than you think",
    "A beginner's checklist for {subject}",
    "{Subject} in {year}: what changed",
]
TITLE_ADJ = ["complete", "practical", "no-nonsense", "essential", "ultimate", "quick", "honest"]
DESC_TEMPLATES = [
    "A practical look at {subject}, with advice on {angle} and {angle2}.",
    "Our editors explain {subject} for beginners: {angle}, {angle2} and what to avoid.",
    "From {angle} to {angle2}, here is how to make the most of {subject}.",
    "We tested the options so you don't have to: {subject}, {angle} and {angle2}.",
    "Everything about {subject} in one place, including {angle} and {angle2}.",
]

FIRST_NAMES = [
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "david",
    "elizabeth",
    "william",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "daniel",
    "nancy",
    "matthew",
    "lisa",
    "anthony",
    "betty",
    "mark",
    "sandra",
    "paul",
    "ashley",
    "steven",
    "emily",
    "andrew",
    "olivia",
    "sofia",
    "lucas",
    "emma",
    "noah",
    "mia",
    "leon",
    "hannah",
    "oliver",
    "amelia",
    "harry",
    "isla",
    "jack",
    "chloe",
]
LAST_NAMES = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "wilson",
    "anderson",
    "taylor",
    "thomas",
    "moore",
    "jackson",
    "martin",
    "lee",
    "thompson",
    "white",
    "harris",
    "clark",
    "lewis",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
    "hill",
    "campbell",
    "mueller",
    "schmidt",
    "fischer",
    "weber",
    "evans",
    "hughes",
    "roberts",
    "patel",
    "murphy",
    "kelly",
]
EMAIL_DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "proton.me",
    "example.org",
    "mail.com",
    "gmx.de",
    "btinternet.com",
]
COMPANY_A = [
    "Acme",
    "Blue Harbor",
    "Cedar",
    "Delta",
    "Evergreen",
    "Falcon",
    "Golden Gate",
    "Horizon",
    "Indigo",
    "Keystone",
    "Liberty",
    "Maple",
    "Northstar",
    "Orion",
    "Pioneer",
    "Quantum",
    "Riverside",
    "Summit",
    "Trident",
    "Union",
    "Vertex",
    "Westfield",
    "Zenith",
    "Atlas",
]
COMPANY_B = [
    "Logistics",
    "Systems",
    "Partners",
    "Labs",
    "Holdings",
    "Consulting",
    "Foods",
    "Retail",
    "Health",
    "Media",
    "Analytics",
    "Engineering",
    "Studios",
    "Supply Co.",
    "Group",
    "Ventures",
]

SITE_PAGES = [
    (f"{SITE}/", "Home"),
    (f"{SITE}/cart", "Your cart"),
    (f"{SITE}/checkout", "Checkout"),
    (f"{SITE}/checkout/complete", "Thank you for your order"),
    (f"{SITE}/search", "Search results"),
    (f"{SITE}/login", "Sign in"),
    (f"{SITE}/account", "Your account"),
    (f"{SITE}/pricing", "Plans and pricing"),
]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class Catalog:
    tops: list[str]
    subcats: list[str]  # full paths "Top > Sub"
    subcat_top: np.ndarray  # subcategory index -> top index
    sub_nouns: list[list[str]]
    product_ids: list[str]
    product_names: list[str]
    product_sub: np.ndarray  # product index -> subcategory index
    sub_products: list[np.ndarray]  # subcategory index -> product indices
    topics: list[str]
    page_urls: list[str]
    page_titles: list[str]
    page_descriptions: list[str]
    page_keywords: list[str]
    page_topic: np.ndarray  # content page index -> topic index
    topic_pages: list[np.ndarray]
    category_pages: list[tuple[str, str]]  # one listing page per subcategory
    queries: list[str]  # search queries
    query_sub: np.ndarray


def build_catalog(
    rng: np.random.Generator, products_per_sub: int = 20, pages: int = 200
) -> Catalog:
    tops = list(TAXONOMY)
    subcats: list[str] = []
    subcat_top: list[int] = []
    sub_nouns: list[list[str]] = []
    for ti, top in enumerate(tops):
        for sub, nouns in TAXONOMY[top].items():
            subcats.append(f"{top} > {sub}")
            subcat_top.append(ti)
            sub_nouns.append(nouns)

    product_ids: list[str] = []
    product_names: list[str] = []
    product_sub: list[int] = []
    seen: set[str] = set()
    for si, nouns in enumerate(sub_nouns):
        for _ in range(products_per_sub):
            for _attempt in range(20):
                name = (
                    f"{BRANDS[rng.integers(len(BRANDS))]} "
                    f"{ADJECTIVES[rng.integers(len(ADJECTIVES))]} {nouns[rng.integers(len(nouns))]}"
                )
                if name not in seen:
                    break
            seen.add(name)
            product_ids.append(f"P{10001 + len(product_ids):05d}")
            product_names.append(name)
            product_sub.append(si)
    product_sub_arr = np.array(product_sub, dtype=np.int32)

    topics = list(TOPICS)
    per_topic = max(1, pages // len(topics))
    urls: list[str] = []
    titles: list[str] = []
    descs: list[str] = []
    kws: list[str] = []
    page_topic: list[int] = []
    slugs: set[str] = set()
    for ti, topic in enumerate(topics):
        subjects, angles, extra = TOPICS[topic]
        for _ in range(per_topic):
            subject = subjects[rng.integers(len(subjects))]
            a1, a2 = rng.choice(len(angles), size=2, replace=False)
            tmpl = TITLE_TEMPLATES[rng.integers(len(TITLE_TEMPLATES))]
            title = tmpl.format(
                adj=TITLE_ADJ[rng.integers(len(TITLE_ADJ))],
                n=int(rng.integers(3, 13)),
                subject=subject,
                Subject=subject[0].upper() + subject[1:],
                angle=angles[a1],
                year=int(rng.integers(2023, 2026)),
            )
            desc = DESC_TEMPLATES[rng.integers(len(DESC_TEMPLATES))].format(
                subject=subject, angle=angles[a1], angle2=angles[a2]
            )
            kw = [subject, angles[a1], angles[a2], *rng.choice(extra, size=2, replace=False)]
            slug = slugify(title)
            base, k = slug, 2
            while slug in slugs:
                slug, k = f"{base}-{k}", k + 1
            slugs.add(slug)
            urls.append(f"{SITE}/blog/{slug}")
            titles.append(title)
            descs.append(desc)
            kws.append(", ".join(str(x) for x in kw))
            page_topic.append(ti)
    page_topic_arr = np.array(page_topic, dtype=np.int32)

    category_pages = [
        (f"{SITE}/c/{slugify(s.replace(' > ', '/'))}", s.split(" > ")[1]) for s in subcats
    ]
    queries: list[str] = []
    query_sub: list[int] = []
    for si, nouns in enumerate(sub_nouns):
        for noun in nouns:
            queries.append(noun.lower())
            query_sub.append(si)
    return Catalog(
        tops=tops,
        subcats=subcats,
        subcat_top=np.array(subcat_top, dtype=np.int32),
        sub_nouns=sub_nouns,
        product_ids=product_ids,
        product_names=product_names,
        product_sub=product_sub_arr,
        sub_products=[np.flatnonzero(product_sub_arr == s) for s in range(len(subcats))],
        topics=topics,
        page_urls=urls,
        page_titles=titles,
        page_descriptions=descs,
        page_keywords=kws,
        page_topic=page_topic_arr,
        topic_pages=[np.flatnonzero(page_topic_arr == t) for t in range(len(topics))],
        category_pages=category_pages,
        queries=queries,
        query_sub=np.array(query_sub, dtype=np.int32),
    )
