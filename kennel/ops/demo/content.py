"""The demo shop's own pages and the parents of its litters: example text a breeder would
replace in the back office (Content pages, Parents)."""

from typing import Any

TERMS_VERSION = "2025-1"

PAGES = {
    "about": {
        "title": "About the breeder",
        "body": """\
We are a small family kennel in the hills above Annecy: two or three litters a year, raised
in our kitchen and garden, never in kennels.

## How our puppies grow up

- Born at home and handled every day from the first week.
- Used to children, visitors, the vacuum cleaner, the car and the vet's waiting room.
- Started on house training and a few first words (*sit*, *come*, *wait*).

## Visiting

Families are welcome from four weeks, by appointment. Write or call us: our address and phone
number are at the bottom of every page.
""",
    },
    "parents": {
        "title": "The parents",
        "body": """\
Every mother and father here lives with us or with a breeder we know well. Each one is health
tested for their breed before they have a litter, and you are welcome to see the certificates.
""",
    },
    "faq": {
        "title": "Questions and answers",
        "body": """\
## How does reserving work?

Choose a puppy, leave your details and pay the deposit online (card or PayPal). The puppy is
then reserved for you and no one else can pay for them. We call you within two days to
arrange a visit.

## When can our puppy come home?

At eight weeks at the earliest, once the vet has checked and vaccinated them.

## What comes with the puppy?

Vaccination record, microchip registration, a vet check, a week of food, a blanket that smells
of their mother and our phone number for life.

## Is the deposit part of the price?

Yes. The balance is paid when you pick your puppy up.
""",
    },
    "terms": {
        "title": "Deposit and refund terms",
        "body": """\
These terms apply to every deposit paid on this site.

1. **What the deposit does.** It reserves the puppy you chose for you alone: we take them off
   sale and accept no other deposit for them.
2. **Part of the price.** The deposit is deducted from the price; the balance is due when you
   pick your puppy up, at eight weeks at the earliest.
3. **If you change your mind.** Tell us up to **14 days before the go-home date** and we refund
   the deposit in full. After that it is refunded only if we find another family for the puppy.
4. **If we cannot let the puppy go** (health, or the puppy's welfare), we refund the deposit in
   full at once, or offer you another puppy if you prefer.
5. **Transfers.** With our agreement a deposit can move to another puppy of the same litter or
   of the next one.
6. **Refunds** go back to the card or PayPal account that paid, within 10 days.
""",
    },
    "privacy": {
        "title": "Privacy notice",
        "body": """\
## What we collect

When you reserve a puppy we collect your **name, email address and phone number**, the puppy
you chose and the deposit you paid. We use them to hold the puppy for you, to confirm your
deposit, to call you about the visit and the go-home day, and for our accounts.

Your card or PayPal details are entered on the payment service's own page: we never see them.

Only **if you tick the box** on the reserve form we also keep your **IP address and browser
(user agent)** and report the deposit to Google Analytics and Meta, to measure our advertising.
Without your consent nothing is reported.

## What we keep, and for how long

We keep reservations and payments for as long as accounting law requires (ten years), and
nothing more. You can ask us at any time what we hold about you and ask us to erase it: we
remove your name, email address, phone number and browsing details from the reservation and
keep only the amounts the accounts need.

## Who we share it with

Stripe or PayPal (to take the deposit), our email provider (to write to you) and, with your
consent only, Google and Meta. We sell nothing to anyone.

## Contact

Write to us at the address at the bottom of the page.
""",
    },
    "imprint": {
        "title": "Imprint",
        "body": """\
**Maple Hill Goldens** (example)
Margaret Lefèvre, breeder
12 chemin des Érables
74000 Annecy, France

Breeder registration: FR-74-000000 (example)
VAT: not applicable

Email and phone: see the bottom of the page.
""",
    },
}

PARENTS: list[dict[str, Any]] = [
    {
        "slug": "willowbrook-maple",
        "call_name": "Maple",
        "name": "Willowbrook Maple",
        "sex": "female",
        "breed": "Golden Retriever",
        "born_years_ago": 5,
        "background": "#f3e6b8",
        "colour": "Light golden",
        "description": "Maple is the calmest dog we have ever lived with: she greets every "
        "visitor with a toy and then lies on their feet.",
        "health_tests": "- Hips: BVA 4/5\n- Elbows: 0/0\n- Eyes: clear (annual, 2025)\n"
        "- PRA (prcd, GR-PRA1, GR-PRA2): clear by DNA",
    },
    {
        "slug": "willowbrook-juniper",
        "call_name": "Juniper",
        "name": "Willowbrook Juniper",
        "sex": "female",
        "breed": "Golden Retriever",
        "born_years_ago": 3,
        "background": "#f6dcc9",
        "colour": "Cream",
        "description": "Juniper is Maple's daughter: a swimmer, a ball-finder and a patient "
        "first-time mother.",
        "health_tests": "- Hips: BVA 3/3\n- Elbows: 0/0\n- Eyes: clear (2025)\n"
        "- PRA (prcd, GR-PRA1, GR-PRA2): clear by DNA\n- Ichthyosis: clear by DNA",
    },
    {
        "slug": "goldcrest-hunter-of-ashby",
        "call_name": "Hunter",
        "name": "Goldcrest Hunter of Ashby",
        "sex": "male",
        "breed": "Golden Retriever",
        "born_years_ago": 6,
        "background": "#d7ecd4",
        "colour": "Dark golden",
        "description": "Hunter works as a gundog in the season and is a gentle giant at home.",
        "health_tests": "- Hips: BVA 6/5\n- Elbows: 0/0\n- Eyes: clear (2025)\n"
        "- Ichthyosis: carrier (Maple is clear, so no puppy can be affected)",
    },
    {
        "slug": "meadowrun-fly",
        "call_name": "Fly",
        "name": "Meadowrun Fly",
        "sex": "female",
        "breed": "Border Collie",
        "born_years_ago": 4,
        "background": "#d5e9e6",
        "colour": "Black and white",
        "description": "Fly herds the hens, the children and, given the chance, the postman.",
        "health_tests": "- Hips: BVA 5/4\n- Eyes: clear (2025)\n- CEA, TNS, NCL, IGS: clear by DNA",
    },
    {
        "slug": "highfell-moss",
        "call_name": "Moss",
        "name": "Highfell Moss",
        "sex": "male",
        "breed": "Border Collie",
        "born_years_ago": 7,
        "background": "#e4ecc7",
        "colour": "Red and white",
        "description": "Moss is a working sheepdog from a fell farm, steady and kind.",
        "health_tests": "- Hips: BVA 3/4\n- Eyes: clear (2024)\n- CEA, TNS, NCL: clear by DNA",
    },
    {
        "slug": "rosehill-clementine",
        "call_name": "Clementine",
        "name": "Rosehill Clementine",
        "sex": "female",
        "breed": "Cavalier King Charles Spaniel",
        "born_years_ago": 3,
        "background": "#f5d9de",
        "colour": "Blenheim",
        "description": "Clementine loves a lap, a sunny window and long walks on the beach.",
        "health_tests": "- Heart: clear, cardiologist auscultation (2025)\n"
        "- MRI (Chiari-like malformation / syringomyelia): grade A\n"
        "- Eyes: clear (2025)\n- Episodic falling, curly coat: clear by DNA",
    },
    {
        "slug": "lyndale-prince-rupert",
        "call_name": "Rupert",
        "name": "Lyndale Prince Rupert",
        "sex": "male",
        "breed": "Cavalier King Charles Spaniel",
        "born_years_ago": 5,
        "background": "#e7dcf3",
        "colour": "Ruby",
        "description": "Rupert is cheerful, confident and never far from whoever has the treats.",
        "health_tests": "- Heart: clear at 5 years (2025)\n- MRI: grade A\n- Eyes: clear (2025)",
    },
]
