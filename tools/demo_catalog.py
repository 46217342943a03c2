"""The fixed ingredients of the Northbeam Supply demo shop: products, people and places."""

from __future__ import annotations

from typing import NamedTuple

SHOP_NAME = "Northbeam Supply"


class Product(NamedTuple):
    sku: str
    name: str
    price_cents: int
    final_sale: bool = False


PRODUCTS: tuple[Product, ...] = (
    # camp and trail
    Product("NB-TENT-2P", "Ridgeline 2-Person Tent", 24900),
    Product("NB-TENT-4P", "Ridgeline 4-Person Tent", 38900),
    Product("NB-BAG-20F", "Cinder 20°F Sleeping Bag", 17900),
    Product("NB-BAG-40F", "Summit 40°F Sleeping Bag", 12900),
    Product("NB-PAD-INS", "Insulated Sleeping Pad", 8900),
    Product("NB-PACK-45L", "Trailhead 45L Backpack", 15900),
    Product("NB-PACK-28L", "Daybreak 28L Daypack", 8900),
    Product("NB-STOVE-1B", "Pocket Canister Stove", 4900),
    Product("NB-COOK-SET", "Nesting Camp Cook Set", 5900),
    Product("NB-LANT-LED", "Rechargeable LED Lantern", 3900),
    Product("NB-HEAD-350", "350-Lumen Headlamp", 2900),
    Product("NB-BOTL-1L", "Insulated Bottle 1 L", 3400),
    Product("NB-FILT-SQZ", "Squeeze Water Filter", 3900),
    Product("NB-CHAIR-LT", "Featherlite Camp Chair", 7900),
    Product("NB-HAMK-DBL", "Double Hammock", 6900),
    Product("NB-COOL-45Q", "Hard Cooler 45 qt", 22900),
    Product("NB-KNIFE-FLD", "Folding Utility Knife", 4500),
    Product("NB-FIRST-AID", "Trail First-Aid Kit", 3200),
    Product("NB-POLE-CRB", "Carbon Trekking Poles", 11900),
    # apparel
    Product("NB-JKT-RAIN", "Stormline Rain Jacket", 13900),
    Product("NB-JKT-DOWN", "Loft Down Jacket", 19900),
    Product("NB-BOOT-HKR", "Switchback Hiking Boots", 16900),
    Product("NB-SOCK-3PK", "Merino Hiking Socks (3-pack)", 3600),
    Product("NB-BEANIE", "Ribbed Wool Beanie", 2800),
    # home
    Product("NB-BLKT-WOOL", "Wool Camp Blanket", 8900),
    Product("NB-MUG-ENM", "Enamel Mug Set of 2", 2400),
    Product("NB-PRESS-FR", "Camp French Press", 3400),
    Product("NB-CAND-CDR", "Cedar & Smoke Candle", 2800),
    Product("NB-THRW-KNT", "Chunky Knit Throw", 7400),
    Product("NB-LAMP-BRS", "Brass Table Lamp", 11900),
    Product("NB-BSKT-SEA", "Seagrass Storage Basket", 4200),
    Product("NB-PLNT-CER", "Large Ceramic Planter", 5600),
    Product("NB-TOWL-LIN", "Linen Bath Towel Set", 6900),
    Product("NB-RUG-JUTE", "Jute Area Rug 5x8", 18900),
    Product("NB-BOARD-OAK", "Oak Cutting Board", 4900),
    Product("NB-SKLT-CI", "Cast Iron Skillet 10 in", 4400),
    Product("NB-GRND-CFE", "Hand Coffee Grinder", 5900),
    # final sale: gift cards, clearance, personalised
    Product("NB-GIFT-50", "Northbeam Gift Card $50", 5000, final_sale=True),
    Product("NB-CLR-FLEECE", "Clearance Polar Fleece Pullover", 2900, final_sale=True),
    Product("NB-CLR-TARP", "Clearance Ultralight Tarp", 4900, final_sale=True),
    Product("NB-ENGR-BOARD", "Personalised Engraved Cutting Board", 6900, final_sale=True),
    Product("NB-ENGR-FLASK", "Engraved Steel Flask", 3900, final_sale=True),
)


class Place(NamedTuple):
    city: str
    region: str
    postal_code: str
    area_code: str
    tax_rate_bp: int  # sales tax in basis points, so amounts stay integer
    country: str = "US"


PLACES: tuple[Place, ...] = (
    Place("Portland", "OR", "97205", "503", 0),
    Place("Seattle", "WA", "98103", "206", 1025),
    Place("Boise", "ID", "83702", "208", 600),
    Place("Denver", "CO", "80206", "303", 881),
    Place("Boulder", "CO", "80302", "720", 904),
    Place("Salt Lake City", "UT", "84105", "801", 775),
    Place("Missoula", "MT", "59801", "406", 0),
    Place("Bend", "OR", "97701", "541", 0),
    Place("Sacramento", "CA", "95816", "916", 875),
    Place("Oakland", "CA", "94610", "510", 1025),
    Place("Flagstaff", "AZ", "86001", "928", 901),
    Place("Santa Fe", "NM", "87501", "505", 819),
    Place("Austin", "TX", "78704", "512", 825),
    Place("Minneapolis", "MN", "55408", "612", 903),
    Place("Madison", "WI", "53703", "608", 550),
    Place("Ann Arbor", "MI", "48104", "734", 600),
    Place("Asheville", "NC", "28801", "828", 700),
    Place("Burlington", "VT", "05401", "802", 700),
    Place("Portland", "ME", "04101", "207", 550),
    Place("Pittsburgh", "PA", "15217", "412", 700),
    Place("Chattanooga", "TN", "37403", "423", 925),
    Place("Duluth", "MN", "55803", "218", 888),
    Place("Anchorage", "AK", "99501", "907", 0),
    Place("Richmond", "VA", "23220", "804", 600),
    Place("Columbus", "OH", "43215", "614", 750),
    Place("Vancouver", "BC", "V6K 2G4", "604", 1200, "CA"),
    Place("Calgary", "AB", "T2N 1N4", "403", 500, "CA"),
)

STREET_NAMES: tuple[str, ...] = (
    "Alder St",
    "Birch Ave",
    "Cedar Ln",
    "Maple Dr",
    "Juniper Way",
    "Willow Ct",
    "Aspen Rd",
    "Spruce St",
    "Hawthorne Blvd",
    "Lakeview Dr",
    "Ridge Rd",
    "Summit Ave",
    "Grant St",
    "Lincoln Ave",
    "Park Pl",
    "Orchard Ln",
    "Mill St",
    "River Rd",
    "Sunset Blvd",
    "Pine Hollow Rd",
    "Chestnut St",
    "Holly Ave",
)

FIRST_NAMES: tuple[str, ...] = (
    "Olivia",
    "Liam",
    "Amara",
    "Noah",
    "Sofia",
    "Mateo",
    "Priya",
    "Ethan",
    "Chloe",
    "Lucas",
    "Mei",
    "Jonah",
    "Isabel",
    "Caleb",
    "Aisha",
    "Owen",
    "Hannah",
    "Diego",
    "Grace",
    "Samuel",
    "Leah",
    "Rafael",
    "Nora",
    "Elijah",
    "Zoe",
    "Kenji",
    "Maya",
    "Tomas",
    "Ruth",
    "Andre",
    "Clara",
    "Farah",
    "Julian",
    "Ingrid",
    "Malik",
    "Wren",
    "Declan",
    "Yara",
    "Felix",
    "Rosa",
)

LAST_NAMES: tuple[str, ...] = (
    "Alvarez",
    "Bennett",
    "Castillo",
    "Donnelly",
    "Eriksen",
    "Fitzgerald",
    "Gallagher",
    "Hoffman",
    "Iyer",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreno",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quinlan",
    "Rasmussen",
    "Sandoval",
    "Thornton",
    "Underwood",
    "Vasquez",
    "Whitaker",
    "Yamamoto",
    "Zimmerman",
    "Brennan",
    "Calloway",
    "Delgado",
    "Fairbanks",
    "Greer",
    "Holloway",
    "Kaur",
    "Lachance",
    "Mbeki",
    "Novak",
)

EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org", "mail.example.com")

CARRIERS: tuple[str, ...] = ("UPS", "FedEx", "USPS")
CARD_BRANDS: tuple[str, ...] = ("Visa", "Visa", "Mastercard", "Amex", "Discover")

# (queue, priority, reason, subject template); {order} and {product} are filled in per ticket.
TICKET_TEMPLATES: tuple[tuple[str, str, str, str], ...] = (
    ("shipping", "normal", "Tracking has not updated", "Where is order {order}?"),
    (
        "shipping",
        "high",
        "Parcel marked delivered but not received",
        "Order {order} says delivered, nothing here",
    ),
    ("returns", "normal", "Item arrived damaged", "{product} arrived damaged"),
    ("returns", "low", "Wants to return an unused item", "Return for {product}"),
    ("billing", "high", "Charged twice for one order", "Double charge on {order}"),
    ("billing", "normal", "Refund not showing on statement", "Refund for {order} not received"),
    ("technical", "normal", "Cannot reset password", "Password reset email never arrives"),
    ("account", "low", "Wants to change account email", "Update the email on my account"),
    ("general", "low", "Product question", "Is the {product} good for winter?"),
)
