"""Checks on untrusted account input: usernames, passwords, profile fields."""

from __future__ import annotations

import re

from app.errors import bad_input
from app.names import check_name

USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{2,31}\Z")
RESERVED_USERNAMES = frozenset(
    {"admin", "administrator", "root", "system", "privchat", "support", "security", "official", "null"}
)
# A short deny-list of the passwords every credential-stuffing list starts with.
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "iloveyou",
        "11111111",
        "abc12345",
        "qwerty123",
        "letmein1",
        "welcome1",
        "passw0rd",
        "admin123",
    }
)
MAX_PASSWORD_LENGTH = 128
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}\Z")
PHONE_RE = re.compile(r"^\+?[0-9]{5,20}\Z")
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}\Z")
MAX_DEVICE_NAME_LENGTH = 128
PLATFORMS = frozenset({"android", "ios", "web", "desktop", "macos", "windows", "linux", "harmony", "other"})


def check_username(username: str) -> str:
    if not USERNAME_RE.match(username):
        raise bad_input(
            "username must be 3-32 characters: letters, digits, '_' or '.', starting with a letter",
            field="username",
        )
    if username.endswith(".") or ".." in username:
        raise bad_input("username may not end with '.' or contain '..'", field="username")
    if username.lower() in RESERVED_USERNAMES:
        raise bad_input("this username is reserved", field="username")
    return username


def check_password(password: str, *, username: str, min_length: int) -> str:
    if len(password) < min_length:
        raise bad_input(f"password must be at least {min_length} characters", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise bad_input(f"password must be at most {MAX_PASSWORD_LENGTH} characters", field="password")
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        raise bad_input("password is too easy to guess", field="password")
    if username.lower() in password.lower():
        raise bad_input("password must not contain the username", field="password")
    return password


def check_display_name(name: str) -> str:
    return check_name(name, field="displayName", max_length=64, what="display name")


def check_email(email: str | None) -> str | None:
    if email is None or email == "":
        return None
    email = email.strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise bad_input("invalid email address", field="email")
    return email


def check_phone(phone: str | None) -> str | None:
    if phone is None or phone == "":
        return None
    phone = re.sub(r"[\s\-()]", "", phone)
    if not PHONE_RE.match(phone):
        raise bad_input("invalid phone number", field="phone")
    return phone


def check_device(device_id: str, device_name: str, platform: str) -> tuple[str, str, str]:
    if not DEVICE_ID_RE.match(device_id):
        raise bad_input("deviceId must be 1-128 characters of letters, digits, '_.:-'", field="deviceId")
    device_name = check_device_name(device_name) if device_name.strip() else device_id
    platform = platform.strip().lower()
    if platform not in PLATFORMS:
        raise bad_input(f"platform must be one of {', '.join(sorted(PLATFORMS))}", field="platform")
    return device_id, device_name, platform


def check_device_name(name: str) -> str:
    return check_name(name, field="deviceName", max_length=MAX_DEVICE_NAME_LENGTH, what="deviceName")


def check_text(value: str | None, *, field: str, max_length: int) -> str | None:
    if value is None:
        return None
    if len(value) > max_length:
        raise bad_input(f"{field} must be at most {max_length} characters", field=field)
    return value
