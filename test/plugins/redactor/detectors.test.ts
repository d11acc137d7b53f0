// Table-driven tests of every built-in detector alone: positives, hard negatives (checksums, ranges, look-alikes
// such as dates, versions and order numbers), punctuation adjacency, line breaks and non-ASCII text around spans.
import { describe, expect, it } from 'vitest';
import { BUILTIN_DETECTORS, DETECTOR_GROUPS, bodyMaxLength } from '../../../plugins/redactor/detectors.ts';
import { engineFor, found } from './helpers.ts';

interface Case { note: string; text: string; want: string[] }

const JWT_IO = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEmo3qGy0t6z09AIJtH\n-----END RSA PRIVATE KEY-----';
const OPENAI = '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';

const TABLE: Record<string, Case[]> = {
  email: [
    { note: 'plain address', text: 'info@presidio.site', want: ['info@presidio.site'] },
    { note: 'two addresses in a sentence', text: 'try info@presidio.site or anotherinfo@presidio.site', want: ['info@presidio.site', 'anotherinfo@presidio.site'] },
    { note: 'dots, plus and subdomains', text: 'mail john.smith+tag@mail.example.co.uk now', want: ['john.smith+tag@mail.example.co.uk'] },
    { note: 'sentence-final period is not part of it', text: 'Write to john@example.net.', want: ['john@example.net'] },
    { note: 'angle brackets and parentheses around it', text: '<john@example.net> (jane@example.org)', want: ['john@example.net', 'jane@example.org'] },
    { note: 'across a line break', text: 'contact:\njohn@example.net\nthanks', want: ['john@example.net'] },
    { note: 'non-ASCII text on both sides', text: 'メールはjohn@example.comです', want: ['john@example.com'] },
    { note: 'hard negative: no top-level domain', text: 'my email is info@presidio.', want: [] },
    { note: 'hard negative: double dot in the domain', text: 'john.smith@gmail..com', want: [] },
    { note: 'hard negative: numeric top-level domain', text: 'user@10.0.0.1', want: [] },
    { note: 'hard negative: a bare @mention', text: 'ping @john about it', want: [] },
    { note: 'hard negative: local part ends with a dot', text: 'john.@example.com', want: [] },
  ],
  phone: [
    { note: 'US with parentheses', text: 'My US number is (415) 555-0132, thanks', want: ['(415) 555-0132'] },
    { note: 'international with spaces', text: 'call +1 415 555 0132', want: ['+1 415 555 0132'] },
    { note: 'E.164 without separators', text: 'tel +442071838750 ok', want: ['+442071838750'] },
    { note: 'UK national with trunk zero', text: 'London office: 020 7946 0958.', want: ['020 7946 0958'] },
    { note: 'French pairs', text: 'Paris: 01 23 45 67 89', want: ['01 23 45 67 89'] },
    { note: 'Israeli national', text: 'My Israeli number is 09-7625400', want: ['09-7625400'] },
    { note: 'dotted US', text: 'Call me on 312.714.8142 or 773.415.7432', want: ['312.714.8142', '773.415.7432'] },
    { note: 'leading country code 1 with dashes', text: '1-312-515-2239', want: ['1-312-515-2239'] },
    { note: 'extension is part of the span', text: '312-515-2239 ext. 12', want: ['312-515-2239 ext. 12'] },
    { note: 'parenthesised country code', text: '(+41) 22 730 5989', want: ['(+41) 22 730 5989'] },
    { note: 'non-ASCII neighbours', text: '電話：+81 3-1234-5678です', want: ['+81 3-1234-5678'] },
    { note: 'on its own line', text: 'phone\n+49 30 901820\nend', want: ['+49 30 901820'] },
    { note: 'hard negative: ISO date', text: 'due 2024-01-15 at 09:30', want: [] },
    { note: 'hard negative: US date', text: 'born 01/15/1990', want: [] },
    { note: 'hard negative: dotted date', text: 'am 01.02.2024', want: [] },
    { note: 'hard negative: order number without separators', text: 'Order #4155550132 shipped', want: [] },
    { note: 'hard negative: version number', text: 'version 10.0.19041.1', want: [] },
    { note: 'hard negative: a numeric range', text: 'between 500-1000 employees', want: [] },
    { note: 'hard negative: unassigned calling code', text: 'id +28 1234 5678 90', want: [] },
    { note: 'hard negative: an SSN shape', text: '078-05-1123', want: [] },
  ],
  credit_card: [
    { note: 'three Visa layouts', text: '4012888888881881 4012-8888-8888-1881 4012 8888 8888 1881', want: ['4012888888881881', '4012-8888-8888-1881', '4012 8888 8888 1881'] },
    { note: 'Amex', text: 'amex 371449635398431.', want: ['371449635398431'] },
    { note: 'Amex 4-6-5 layout', text: 'amex 3714 496353 98431', want: ['3714 496353 98431'] },
    { note: 'Mastercard 2-series', text: 'mc 2223000048400011', want: ['2223000048400011'] },
    { note: 'Diners 14 digits', text: 'diners 30569309025904', want: ['30569309025904'] },
    { note: 'JCB', text: 'jcb: 3528000700000000;', want: ['3528000700000000'] },
    { note: 'UATP (AirPlus)', text: '122000000000003', want: ['122000000000003'] },
    { note: 'card followed by an expiry', text: 'card 4111 1111 1111 1111 12/27', want: ['4111 1111 1111 1111'] },
    { note: 'non-ASCII neighbours', text: 'カード4111111111111111です', want: ['4111111111111111'] },
    { note: 'hard negative: invalid Luhn', text: 'my credit card number is 4012-8888-8888-1882', want: [] },
    { note: 'hard negative: invalid Diners Luhn', text: '36168002586008', want: [] },
    { note: 'hard negative: no issuer starts with 0', text: '0000-0000-0000-0000', want: [] },
    { note: 'hard negative: 20-digit run', text: 'ref 41111111111111111111', want: [] },
    { note: 'hard negative: mixed separators', text: '4012-8888 8888-1881', want: [] },
    { note: 'hard negative: digits of unrelated numbers', text: '693-09.4444 078051121', want: [] },
  ],
  us_ssn: [
    { note: 'dashed', text: 'SSN 078-05-1123.', want: ['078-05-1123'] },
    { note: 'dotted and spaced', text: '078.05.1123 and 078 05 1123', want: ['078.05.1123', '078 05 1123'] },
    { note: 'bare nine digits', text: 'ssn:078051121', want: ['078051121'] },
    { note: 'line breaks around it', text: 'ssn\n536-22-1234\n', want: ['536-22-1234'] },
    { note: 'hard negative: area 000', text: '000-12-3456', want: [] },
    { note: 'hard negative: area 666 and 9xx', text: '666-12-3456 912-12-3456', want: [] },
    { note: 'hard negative: group 00 and serial 0000', text: '078 00 1123 078-05-0000', want: [] },
    { note: 'hard negative: the Woolworth wallet number', text: '078-05-1120', want: [] },
    { note: 'hard negative: mixed separators', text: '693-09.4444', want: [] },
    { note: 'hard negative: ten digits', text: '0780511201', want: [] },
    { note: 'hard negative: order number', text: 'order #536221234', want: [] },
    { note: 'hard negative: amount', text: '$536221234', want: [] },
    { note: 'hard negative: ISO date', text: '2024-01-15', want: [] },
  ],
  iban: [
    { note: 'compact German IBAN', text: 'DE89370400440532013000', want: ['DE89370400440532013000'] },
    { note: 'grouped in a sentence, stops before a stray letter', text: 'this is an iban VG96 VPVG 0000 0123 4567 8901 X in a sentence', want: ['VG96 VPVG 0000 0123 4567 8901'] },
    { note: 'list separated by commas', text: 'ibans: AL47212110090000000235698741, GB29NWBK60161331926819.', want: ['AL47212110090000000235698741', 'GB29NWBK60161331926819'] },
    { note: 'French with letters in the BBAN', text: 'FR14 2004 1010 0505 0001 3M02 606', want: ['FR14 2004 1010 0505 0001 3M02 606'] },
    { note: 'non-ASCII neighbours', text: 'Überweisung an DE89 3704 0044 0532 0130 00 – danke', want: ['DE89 3704 0044 0532 0130 00'] },
    { note: 'hard negative: wrong check digits', text: 'DE89 3704 0044 0532 0130 01', want: [] },
    { note: 'hard negative: wrong length for the country', text: 'AL47 2121 1009 0000 0002 3569 874', want: [] },
    { note: 'hard negative: unknown country', text: 'AB150120690000003111141', want: [] },
    { note: 'hard negative: lower-case letters', text: 'GI75 aWBK 0000 0000 7099 453', want: [] },
    { note: 'hard negative: glued to more characters', text: 'DE89370400440532013000123', want: [] },
  ],
  ipv4: [
    { note: 'address after a domain', text: 'microsoft.com 192.168.0.1', want: ['192.168.0.1'] },
    { note: 'with a prefix length', text: 'Subnet: 192.168.1.0/24', want: ['192.168.1.0/24'] },
    { note: 'sentence-final period', text: 'IP: 192.168.1.1.', want: ['192.168.1.1'] },
    { note: 'in parentheses and before a comma', text: '(10.0.0.1), 8.8.8.8,', want: ['10.0.0.1', '8.8.8.8'] },
    { note: 'invalid prefix length is left as text', text: '10.0.0.0/123', want: ['10.0.0.0'] },
    { note: 'non-ASCII neighbours', text: 'サーバー192.168.10.20です', want: ['192.168.10.20'] },
    { note: 'hard negative: octet above 255', text: '256.256.256.256 192.168.1.256', want: [] },
    { note: 'hard negative: three parts', text: 'my ip: 192.168.0', want: [] },
    { note: 'hard negative: five-part version string', text: 'build 1.2.3.4.5', want: [] },
    { note: 'hard negative: glued to a word', text: 'IP192.168.1.1text', want: [] },
    { note: 'hard negative: dotted date', text: '2024.01.15', want: [] },
  ],
  ipv6: [
    { note: 'full form', text: 'microsoft.com 684D:1111:222:3333:4444:5555:6:77', want: ['684D:1111:222:3333:4444:5555:6:77'] },
    { note: 'compressed in brackets with a port', text: 'Connect to [2001:db8::1]:8080', want: ['2001:db8::1'] },
    { note: 'zone id and prefix length', text: 'fe80::1%eth0/64', want: ['fe80::1%eth0/64'] },
    { note: 'IPv4-mapped as one span', text: 'Mapped: ::ffff:192.168.1.1', want: ['::ffff:192.168.1.1'] },
    { note: 'loopback', text: 'connecting from ::1', want: ['::1'] },
    { note: 'sentence-final period', text: 'Server IP: 2400:c401::5054:ff:fe1b:b031.', want: ['2400:c401::5054:ff:fe1b:b031'] },
    { note: 'bad prefix length is left as text', text: '2001:db8::/9999', want: ['2001:db8::'] },
    { note: 'hard negative: seven groups without ::', text: '684D:1111:222:3333:4444:5555:77', want: [] },
    { note: 'hard negative: two ::', text: '2001::db8::1', want: [] },
    { note: 'hard negative: MAC address', text: 'MAC address aa:bb:cc:dd:ee:ff', want: [] },
    { note: 'hard negative: time of day', text: 'Time 12:34:56', want: [] },
    { note: 'hard negative: C++ scope', text: 'std::cout and a::b', want: [] },
    { note: 'hard negative: glued to text', text: 'fe80::1text', want: [] },
  ],
  jwt: [
    { note: 'jwt.io example', text: `token ${JWT_IO} end`, want: [JWT_IO] },
    { note: 'sentence-final period', text: `jwt: ${JWT_IO}.`, want: [JWT_IO] },
    { note: 'RFC 7519 example with CRLF in the header', text: 'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', want: ['eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'] },
    { note: 'hard negative: header is not JSON', text: 'eyJhbGciOieeeiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.a_5icKBDo-8EjUlrfvz2k2k', want: [] },
    { note: 'hard negative: header without alg', text: 'eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijk', want: [] },
    { note: 'hard negative: eyJ in a longer base64 run', text: 'QUJDeyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.sig', want: [] },
  ],
  url_credentials: [
    { note: 'user and password in a database URL', text: 'postgres://admin:s3cr3t@db.example.com:5432/app', want: ['admin:s3cr3t'] },
    { note: 'token as password', text: 'git clone https://x-access-token:abc123def456@github.com/o/r.git', want: ['x-access-token:abc123def456'] },
    { note: 'password containing @ up to the last @', text: 'redis://u:p@ss@cache:6379', want: ['u:p@ss'] },
    { note: 'hard negative: host and port only', text: 'https://example.com:8080/path', want: [] },
    { note: 'hard negative: user without password', text: 'ssh://git@github.com/o/r', want: [] },
    { note: 'hard negative: empty password', text: 'ftp://anonymous:@ftp.example.com', want: [] },
  ],
  openai_key: [
    { note: 'project key', text: `OPENAI_API_KEY=${OPENAI}`, want: [OPENAI] },
    { note: 'legacy 48-character key', text: 'key: sk-AbCdEfGhIjKlMnOpQrStT3BlbkFJuVwXyZ0123456789aBcD.', want: ['sk-AbCdEfGhIjKlMnOpQrStT3BlbkFJuVwXyZ0123456789aBcD'] },
    { note: 'hard negative: scikit-learn', text: 'use sk-learn-model-selection-utilities-for-grids', want: [] },
    { note: 'hard negative: placeholder', text: 'sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', want: [] },
  ],
  aws_access_key: [
    { note: 'access key id', text: 'aws_access_key_id = AKIALALEMEL33243OLIB', want: ['AKIALALEMEL33243OLIB'] },
    { note: 'temporary key id in quotes', text: '"ASIAY34FZKBOKMUTVV7A"', want: ['ASIAY34FZKBOKMUTVV7A'] },
    { note: 'hard negative: low entropy', text: 'key = AKIAXXXXXXXXXXXXXXXX', want: [] },
    { note: 'hard negative: wrong length', text: 'TODAYINASIAASACKOFRICEFELLOVER', want: [] },
  ],
  github_token: [
    { note: 'classic personal token', text: 'GITHUB_TOKEN=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789', want: ['ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789'] },
    { note: 'fine-grained token', text: 'github_pat_11ABCDEFG0123456789abc_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456', want: ['github_pat_11ABCDEFG0123456789abc_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456'] },
    { note: 'hard negative: too short', text: 'ghp_abc123', want: [] },
    { note: 'hard negative: too long', text: 'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567890', want: [] },
  ],
  slack_token: [
    { note: 'bot token', text: '"bot_token1": "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD"', want: ['xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD'] },
    { note: 'user token', text: 'xoxp-41684372915-1320496754-45609968301-e708ba56e1517a99f6b5fb07349476ef', want: ['xoxp-41684372915-1320496754-45609968301-e708ba56e1517a99f6b5fb07349476ef'] },
    { note: 'hard negative: placeholder x', text: 'xoxb-xxxxxxxxx-xxxxxxxxxx-xxxxxxxxxxxx', want: [] },
    { note: 'hard negative: too short', text: 'xoxb-12345-abcd234', want: [] },
    { note: 'hard negative: inside a URL path word', text: 'https://indieweb.org/images/2018-250-xoxo-indieweb-1.jpg', want: [] },
  ],
  google_api_key: [
    { note: 'key ending in a dash', text: 'AIzaSyNHxIf32IQ1a1yjl3ZJIqKZqzLAK1XhDk-', want: ['AIzaSyNHxIf32IQ1a1yjl3ZJIqKZqzLAK1XhDk-'] },
    { note: 'in a JSON value', text: '{"apiKey": "AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE"}', want: ['AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE'] },
    { note: 'hard negative: low entropy', text: 'apiKey: "AIzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"', want: [] },
    { note: 'hard negative: longer run', text: 'AIzaTesb6Tscfcni8vIpWZqNCXFDFslJtVSvFDqabcd123', want: [] },
    { note: 'hard negative: wrong case', text: 'AIZASYCO2CXRMC9ELSKLHLHRMBSWDEVEDZTLO2O', want: [] },
  ],
  private_key: [
    { note: 'RSA block with END line', text: `key:\n${PEM}\nafter`, want: [PEM] },
    { note: 'JSON-escaped block', text: '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n"}', want: ['-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----'] },
    { note: 'truncated block without END line', text: '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n\nThat was the key.', want: ['-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49'] },
    { note: 'hard negative: public key', text: '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----', want: [] },
  ],
  aws_secret_key: [
    { note: 'env file', text: 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', want: ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'] },
    { note: 'quoted, camel-case key name', text: '"SecretAccessKey": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"', want: ['je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY'] },
    { note: 'hard negative: 41 characters', text: 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYX', want: [] },
    { note: 'hard negative: one case only', text: 'aws_secret_access_key = ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCD', want: [] },
    { note: 'hard negative: no value', text: 'set aws_secret_access_key: in your profile', want: [] },
  ],
  slack_webhook: [
    { note: 'services URL', text: 'https://hooks.slack.com/services/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', want: ['https://hooks.slack.com/services/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'] },
    { note: 'workflows URL without scheme', text: 'hooks.slack.com/workflows/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.', want: ['hooks.slack.com/workflows/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'] },
    { note: 'hard negative: documentation placeholder', text: 'https://hooks.slack.com/services/XXXXXXXXX/XXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX', want: [] },
    { note: 'hard negative: path too short', text: 'https://hooks.slack.com/services/T0/B0/abc', want: [] },
  ],
  stripe_key: [
    { note: 'live secret key', text: 'STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc', want: ['sk_live_4eC39HqLyjWDarjtT1zdp7dc'] },
    { note: 'long test key', text: 'sk_test_51OuEMLAlTWGaDypq4P5cuDHbuKeG4tAGPYHJpEXQ7zE8mKK3jkhTFPvCxnSSK5zB5EQZrJsYdsatNmAHGgb0vSKD00GTMSWRHs', want: ['sk_test_51OuEMLAlTWGaDypq4P5cuDHbuKeG4tAGPYHJpEXQ7zE8mKK3jkhTFPvCxnSSK5zB5EQZrJsYdsatNmAHGgb0vSKD00GTMSWRHs'] },
    { note: 'hard negative: other prefix', text: 'nonMatchingToken := "task_test_4eC39HqLyjWDarjtT1zdp7dc"', want: [] },
    { note: 'hard negative: no digit', text: 'sk_live_abcdefghijklmnopqrst', want: [] },
  ],
  password: [
    { note: 'env assignment', text: 'MYSQL_ROOT_PASSWORD=Zx9!pQ2#rT', want: ['Zx9!pQ2#rT'] },
    { note: 'passwd with spaces around "="', text: 'passwd = aB3dE5gH7jK9mN1pQ3sT5vW7yZ9', want: ['aB3dE5gH7jK9mN1pQ3sT5vW7yZ9'] },
    { note: 'quoted client secret (hex)', text: '"client_secret" : "6da89121079f83b2eb6acccf8219ea982c3d79bccc3e9c6a85856480661f8fde",', want: ['6da89121079f83b2eb6acccf8219ea982c3d79bccc3e9c6a85856480661f8fde'] },
    { note: 'digits-only password', text: 'password: 48213977', want: ['48213977'] },
    { note: 'sentence-final period trimmed', text: 'The wifi password is set: password=Blue42Moon.', want: ['Blue42Moon'] },
    { note: 'hard negative: empty value', text: 'snowflake.password=\njdbc.snowflake.url=', want: [] },
    { note: 'hard negative: one character', text: 'PuttyPassword=0', want: [] },
    { note: 'hard negative: variable name in quotes', text: "usernameVariable: 'USERNAME', passwordVariable: 'PASSWORD'", want: [] },
    { note: 'hard negative: dotted name', text: 'secret_length = X25519.secret_length', want: [] },
    { note: 'hard negative: shell substitution', text: 'JFROG_SECRET = $(cat /run/secrets/jfrog_secret)', want: [] },
    { note: 'hard negative: prose word', text: 'Password: required', want: [] },
  ],
  bearer_token: [
    { note: 'Authorization header in text', text: 'Authorization: Bearer abcDEF1234567890ghijKLMN', want: ['abcDEF1234567890ghijKLMN'] },
    { note: 'lower-case bearer with a period after it', text: 'use bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0.', want: ['9f8e7d6c5b4a39281706f5e4d3c2b1a0'] },
    { note: 'hard negative: prose', text: 'Bearer tokens are sent in the Authorization header', want: [] },
    { note: 'hard negative: placeholder', text: 'Authorization: Bearer YOUR_TOKEN_HERE', want: [] },
  ],
};

describe('built-in detectors', () => {
  for (const [name, cases] of Object.entries(TABLE)) {
    describe(name, () => {
      const engine = engineFor([name]);
      it.each(cases)('$note', ({ text, want }) => {
        expect(found(engine, text)).toEqual(want);
      });
    });
  }

  it('every built-in detector has a table', () => {
    expect(Object.keys(TABLE).sort()).toEqual(BUILTIN_DETECTORS.map((d) => d.name).sort());
  });

  it('groups name only existing detectors', () => {
    const names = new Set(BUILTIN_DETECTORS.map((d) => d.name));
    for (const members of Object.values(DETECTOR_GROUPS)) for (const m of members) expect(names.has(m)).toBe(true);
  });
});

describe('all detectors together', () => {
  const engine = engineFor();
  const negatives = [
    { note: 'dates and times', text: 'Meeting on 2024-01-15 at 09:30, then 01/02/2024 and 15.01.2024.' },
    { note: 'version numbers', text: 'Upgrade from v1.2.3 to 10.0.19041.1 or 1.2.3.4.5, see RFC 7519 §4.1.' },
    { note: 'order and invoice numbers', text: 'Order #123456789 and invoice INV-2024-000123 ship 12 items for $1,234.56.' },
    { note: 'code with scopes and ratios', text: 'std::vector<int> v; ratio 16:9; time 12:34:56; port 80:443.' },
    { note: 'prose about secrets', text: 'Bearer tokens and API keys (sk-...) must never be logged; use sk-learn-style names.' },
    { note: 'non-ASCII prose', text: 'Größe 12 cm — délai 3 jours — 価格は1000円です' },
  ];
  it.each(negatives)('redacts nothing in $note', ({ text }) => {
    expect(found(engine, text)).toEqual([]);
  });

  it('redacts a mixed paragraph with each value once', () => {
    const text = `Contact john@example.com or +1 415 555 0132; card 4111 1111 1111 1111, SSN 078-05-1123,\nIBAN DE89370400440532013000 from 10.0.0.1 with ${JWT_IO}.`;
    expect(engine.spans(text).map((s) => s.type)).toEqual(['email', 'phone', 'credit_card', 'us_ssn', 'iban', 'ipv4', 'jwt']);
  });
});

describe('trigger lengths', () => {
  it('measures the longest match of a bounded body', () => {
    expect(bodyMaxLength('ab{2,5}c')).toBe(7);
    expect(bodyMaxLength('(?:x|yz)[0-9]{3}')).toBe(5);
    expect(bodyMaxLength('a+')).toBe(Infinity);
  });

  it('every built-in trigger is bounded and short', () => {
    for (const d of BUILTIN_DETECTORS) {
      expect(Number.isFinite(d.triggerMax)).toBe(true);
      expect(d.triggerMax).toBeLessThanOrEqual(70);
    }
  });
});

describe('linear time on adversarial input', () => {
  const engine = engineFor();
  const inputs = [
    { note: 'digits and separators', text: '1-2 3.4-'.repeat(20000) },
    { note: 'a long local part without @', text: 'a.'.repeat(50000) },
    { note: 'colons and hex', text: 'a:b:'.repeat(30000) },
    { note: 'repeated @ signs', text: 'a@'.repeat(50000) },
    { note: 'an unterminated PEM header', text: '-----BEGIN RSA PRIVATE KEY-----'.repeat(1000) },
    { note: 'eyJ runs', text: 'eyJ.'.repeat(30000) },
  ];
  it.each(inputs)('finishes on $note', ({ text }) => {
    expect(engine.redact(text, { key: 'k', counts: {} }).length).toBeGreaterThan(0);
  });
});
