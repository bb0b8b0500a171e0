//! The seeded population that every emulator draws its records from.
//!
//! Real contact data overlaps: the same buyer is a contact in the transaction
//! system, the CRM and the MLS, typed in slightly differently each time. The
//! sandbox reproduces that by generating one population of people from the seed
//! and letting each emulator pick its own (overlapping) subset, then write the
//! email and phone in its own style (see [`Person::email_as_entered`] and
//! [`PhoneStyle`]).

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::rng::SeededRng;

/// How many people the population holds; each source takes a subset of it.
pub const POPULATION_SIZE: usize = 1500;

/// How many people each source holds after seeding (at least 500 per source).
pub const PEOPLE_PER_SOURCE: usize = 600;

/// One of the four emulated upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceName {
    OpenToClose,
    DjangoCrm,
    Winnerr,
    Spark,
}

impl SourceName {
    /// Every source, in a fixed order.
    pub const ALL: [SourceName; 4] = [
        SourceName::OpenToClose,
        SourceName::DjangoCrm,
        SourceName::Winnerr,
        SourceName::Spark,
    ];

    /// The name used in URLs, stats and configuration (`opentoclose`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceName::OpenToClose => "opentoclose",
            SourceName::DjangoCrm => "djangocrm",
            SourceName::Winnerr => "winnerr",
            SourceName::Spark => "spark",
        }
    }

    /// Parses the URL name of a source.
    pub fn parse(name: &str) -> Option<SourceName> {
        SourceName::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// A person of the seeded population, before any source has typed them in.
#[derive(Debug, Clone)]
pub struct Person {
    /// Position in the population; stable for a given seed.
    pub index: usize,
    pub first_name: String,
    pub last_name: String,
    /// Canonical lower-case email address.
    pub email: String,
    /// Ten-digit North American number, digits only (no country code).
    pub phone_digits: String,
    pub street: String,
    pub city: String,
    /// Two-letter US state code.
    pub state: String,
    pub postal_code: String,
    pub company: String,
    pub job_title: String,
    /// When the person was first entered anywhere; sources add their own offsets.
    pub created_at: DateTime<Utc>,
}

/// How a source writes phone numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneStyle {
    /// `+15551234567`
    E164,
    /// `+1-555-123-4567`
    DashedWithCountry,
    /// `555-123-4567`
    Dashed,
    /// `(555) 123-4567`
    Parenthesized,
    /// `555 123 4567`
    Spaced,
}

impl Person {
    /// The phone number written in the given style.
    pub fn phone(&self, style: PhoneStyle) -> String {
        let d = &self.phone_digits;
        let (area, exchange, line) = (&d[0..3], &d[3..6], &d[6..10]);
        match style {
            PhoneStyle::E164 => format!("+1{d}"),
            PhoneStyle::DashedWithCountry => format!("+1-{area}-{exchange}-{line}"),
            PhoneStyle::Dashed => format!("{area}-{exchange}-{line}"),
            PhoneStyle::Parenthesized => format!("({area}) {exchange}-{line}"),
            PhoneStyle::Spaced => format!("{area} {exchange} {line}"),
        }
    }

    /// The email as a person at a keyboard might have entered it into `source`:
    /// usually as is, sometimes capitalised, sometimes with stray spaces. The
    /// variation is deterministic per (person, source).
    pub fn email_as_entered(&self, source: SourceName) -> String {
        let roll = (self.index * 7 + source as usize * 13) % 10;
        match roll {
            0 => self.email.to_uppercase(),
            1 => {
                let mut chars = self.email.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
            2 => format!(" {} ", self.email),
            _ => self.email.clone(),
        }
    }

    /// `First Last`.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// The whole seeded population.
#[derive(Debug, Clone)]
pub struct World {
    pub seed: u64,
    pub people: Vec<Person>,
}

impl World {
    /// Generates the population for `seed`. Same seed, same people.
    pub fn generate(seed: u64) -> World {
        let mut rng = SeededRng::new(seed).fork("people");
        let base = Utc
            .with_ymd_and_hms(2022, 1, 3, 9, 0, 0)
            .single()
            .unwrap_or_default();
        let mut used_emails = std::collections::HashSet::new();
        let mut people = Vec::with_capacity(POPULATION_SIZE);
        for index in 0..POPULATION_SIZE {
            let first_name = rng.pick(FIRST_NAMES).to_string();
            let last_name = rng.pick(LAST_NAMES).to_string();
            let domain = rng.pick(EMAIL_DOMAINS);
            let mut local = match rng.range(0, 3) {
                0 => format!("{}.{}", first_name, last_name),
                1 => format!("{}{}", &first_name[..1], last_name),
                _ => format!("{}_{}{}", first_name, last_name, rng.range(1, 99)),
            }
            .to_lowercase()
            .replace(['\'', ' '], "");
            while !used_emails.insert(format!("{local}@{domain}")) {
                local.push_str(&rng.range(0, 10).to_string());
            }
            let email = format!("{local}@{domain}");
            let (city, state, zip_prefix, area_code) = *rng.pick(CITIES);
            let phone_digits = format!("{area_code}{}{}", rng.range(200, 999), rng.digits(4));
            let street = format!(
                "{} {} {}",
                rng.range(10, 9999),
                rng.pick(STREET_NAMES),
                rng.pick(STREET_SUFFIXES)
            );
            let postal_code = format!("{zip_prefix}{:02}", rng.range(0, 100));
            let created_at = base
                + Duration::minutes(rng.range(0, 60 * 24 * 365 * 3) as i64)
                + Duration::seconds(rng.range(0, 60) as i64);
            people.push(Person {
                index,
                first_name,
                last_name,
                email,
                phone_digits,
                street,
                city: city.to_string(),
                state: state.to_string(),
                postal_code,
                company: rng.pick(COMPANIES).to_string(),
                job_title: rng.pick(JOB_TITLES).to_string(),
                created_at,
            });
        }
        World { seed, people }
    }

    /// The people `source` holds after seeding: [`PEOPLE_PER_SOURCE`] of the
    /// population, chosen per source so that many people are in two or more
    /// sources. The order is the population order.
    pub fn people_for(&self, source: SourceName) -> Vec<&Person> {
        let mut rng = SeededRng::new(self.seed).fork(source.as_str());
        let mut indexes: Vec<usize> = (0..self.people.len()).collect();
        rng.shuffle(&mut indexes);
        indexes.truncate(PEOPLE_PER_SOURCE.min(self.people.len()));
        indexes.sort_unstable();
        indexes.into_iter().map(|i| &self.people[i]).collect()
    }

    /// A generator for a source's own extra data (ids, notes, links), independent
    /// of the population's.
    pub fn rng_for(&self, purpose: &str) -> SeededRng {
        SeededRng::new(self.seed).fork(purpose)
    }
}

const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Christopher",
    "Karen",
    "Charles",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Sandra",
    "Mark",
    "Margaret",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Andrew",
    "Emily",
    "Paul",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Deborah",
    "Timothy",
    "Stephanie",
    "Ronald",
    "Rebecca",
    "Jason",
    "Sharon",
    "Edward",
    "Laura",
    "Jeffrey",
    "Cynthia",
    "Ryan",
    "Dorothy",
    "Jacob",
    "Amy",
    "Gary",
    "Kathleen",
    "Nicholas",
    "Angela",
    "Eric",
    "Shirley",
    "Jonathan",
    "Emma",
    "Stephen",
    "Brenda",
    "Larry",
    "Pamela",
    "Justin",
    "Nicole",
    "Scott",
    "Anna",
    "Brandon",
    "Samantha",
    "Benjamin",
    "Katherine",
    "Samuel",
    "Christine",
    "Gregory",
    "Debra",
    "Alexander",
    "Rachel",
    "Patrick",
    "Carolyn",
    "Frank",
    "Janet",
    "Raymond",
    "Maria",
    "Jack",
    "Olivia",
    "Dennis",
    "Heather",
    "Jerry",
    "Helen",
    "Sofia",
    "Mateo",
    "Camila",
    "Diego",
    "Valentina",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Aisha",
    "Kwame",
    "Amara",
    "Liam",
    "Noah",
    "Neddy",
    "Zoe",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "O'Brien",
    "Nederlander",
    "Van Buren",
    "McAllister",
    "Okafor",
    "Tanaka",
    "Chen",
    "Singh",
    "Haddad",
];

const EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "icloud.com",
    "hotmail.com",
    "aol.com",
    "protonmail.com",
    "comcast.net",
    "example.com",
    "realtymail.com",
];

/// (city, state, first three digits of the ZIP code, area code)
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Miami", "FL", "331", "305"),
    ("Miami Beach", "FL", "331", "786"),
    ("Orlando", "FL", "328", "407"),
    ("Tampa", "FL", "336", "813"),
    ("Austin", "TX", "787", "512"),
    ("Dallas", "TX", "752", "214"),
    ("Houston", "TX", "770", "713"),
    ("New York", "NY", "100", "212"),
    ("Brooklyn", "NY", "112", "718"),
    ("Boston", "MA", "021", "617"),
    ("Chicago", "IL", "606", "312"),
    ("Denver", "CO", "802", "303"),
    ("Phoenix", "AZ", "850", "602"),
    ("Seattle", "WA", "981", "206"),
    ("Portland", "OR", "972", "503"),
    ("San Diego", "CA", "921", "619"),
    ("Los Angeles", "CA", "900", "213"),
    ("San Francisco", "CA", "941", "415"),
    ("Atlanta", "GA", "303", "404"),
    ("Nashville", "TN", "372", "615"),
    ("Charlotte", "NC", "282", "704"),
    ("Minneapolis", "MN", "554", "612"),
    ("Salt Lake City", "UT", "841", "801"),
    ("Fargo", "ND", "581", "701"),
];

const STREET_NAMES: &[&str] = &[
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Ocean",
    "Sunset",
    "Highland",
    "River",
    "Church",
    "Spring",
    "Willow",
    "Meadow",
    "Harbor",
    "Lincoln",
    "Jefferson",
    "Madison",
    "Forest",
    "Bay",
    "Summit",
];

const STREET_SUFFIXES: &[&str] = &["St", "Ave", "Blvd", "Dr", "Ln", "Rd", "Ct", "Way", "Pl"];

const COMPANIES: &[&str] = &[
    "ABC Realty",
    "Acme Corporation",
    "Sunshine Mortgage",
    "First Coast Title",
    "Keystone Inspections",
    "Harbor Lending",
    "Blue Door Homes",
    "Summit Appraisals",
    "Northwind Traders",
    "Pioneer Escrow",
    "Lakeside Insurance",
    "Independent",
];

const JOB_TITLES: &[&str] = &[
    "Buyer",
    "Seller",
    "Loan Officer",
    "Home Inspector",
    "Escrow Officer",
    "Appraiser",
    "Attorney",
    "Listing Agent",
    "Buyer Agent",
    "Marketing Manager",
    "Sales Director",
    "Investor",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_emails_unique() {
        let a = World::generate(42);
        let b = World::generate(42);
        assert_eq!(a.people.len(), POPULATION_SIZE);
        assert_eq!(a.people[17].email, b.people[17].email);
        let emails: std::collections::HashSet<_> = a.people.iter().map(|p| &p.email).collect();
        assert_eq!(emails.len(), POPULATION_SIZE);
        assert_ne!(World::generate(43).people[0].email, a.people[0].email);
    }

    #[test]
    fn sources_overlap() {
        let world = World::generate(1);
        let otc: std::collections::HashSet<usize> = world
            .people_for(SourceName::OpenToClose)
            .iter()
            .map(|p| p.index)
            .collect();
        let spark = world.people_for(SourceName::Spark);
        assert_eq!(spark.len(), PEOPLE_PER_SOURCE);
        let shared = spark.iter().filter(|p| otc.contains(&p.index)).count();
        assert!(shared > 50, "only {shared} people shared");
    }

    #[test]
    fn phone_styles() {
        let world = World::generate(1);
        let p = &world.people[0];
        let d = &p.phone_digits;
        assert_eq!(p.phone(PhoneStyle::E164), format!("+1{d}"));
        assert_eq!(p.phone(PhoneStyle::Dashed).len(), 12);
        assert!(p.phone(PhoneStyle::Parenthesized).starts_with('('));
    }
}
