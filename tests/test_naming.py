"""Queue names: prefix__name__suffix, .fifo last, defaults from the module path, validation."""

import pytest

from django_sqs import receiver, register
from django_sqs.exceptions import ConfigurationError, InvalidQueueName, UnknownSuffix
from django_sqs.naming import build_full_name, default_queue_name, name_problem


def test_scheme_joins_prefix_name_and_suffix_with_double_underscores():
    assert build_full_name("dev", "thumbnails") == "dev__thumbnails"
    assert build_full_name("dev", "thumbnails", "big") == "dev__thumbnails__big"
    assert build_full_name("", "thumbnails", "big") == "thumbnails__big"
    assert build_full_name("", "thumbnails") == "thumbnails"


def test_fifo_ending_stays_last_after_the_suffix():
    assert build_full_name("dev", "orders.fifo") == "dev__orders.fifo"
    assert build_full_name("dev", "orders.fifo", "eu") == "dev__orders__eu.fifo"


def test_registered_queue_full_name_uses_the_prefix_setting(settings):
    rq = register("thumbnails", suffixes=("big",))
    assert rq.name == "thumbnails"
    assert rq.full_name() == "t__thumbnails"
    assert rq.full_name("big") == "t__thumbnails__big"
    settings.SQS_QUEUE_PREFIX = "prod"
    assert rq.full_name("big") == "prod__thumbnails__big"


def test_fifo_registered_queue_keeps_fifo_last():
    rq = register("orders.fifo", suffixes=("eu",))
    assert rq.fifo
    assert rq.full_name("eu") == "t__orders__eu.fifo"


def test_default_name_is_module_and_function_with_dots_as_double_underscores():
    def charge(message):
        pass

    charge.__module__ = "shop.tasks"
    charge.__qualname__ = "charge"
    assert default_queue_name(charge) == "shop__tasks__charge"
    proxy = receiver(charge)
    assert proxy.registered_queue.name == "shop__tasks__charge"
    assert proxy.registered_queue.full_name() == "t__shop__tasks__charge"


def test_default_name_of_a_discovered_bare_receiver():
    from tests.receivers import bare

    assert bare.registered_queue.name == "tests__receivers__bare"


def test_undeclared_suffix_is_an_error():
    # SPEC §3 said "warns"; a queue nobody serves would be created: now an error (issue 10, item 26).
    rq = register("thumbnails", suffixes=("big",))
    with pytest.raises(UnknownSuffix, match=r"Suffix 'huge' is not declared for queue 'thumbnails' \(declared: big\)"):
        rq.full_name("huge")


def test_declared_suffix_does_not_warn(recwarn):
    rq = register("thumbnails", suffixes=("big",))
    rq.full_name("big")
    rq.full_name()
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_name_of_80_characters_is_accepted_and_81_refused():
    # The prefix "t__" takes 3 characters.
    assert register("a" * 77).full_name() == "t__" + "a" * 77
    with pytest.raises(InvalidQueueName) as excinfo:
        register("b" * 78)
    message = str(excinfo.value)
    assert "'t__" + "b" * 78 + "'" in message
    assert "81 characters" in message and "at most 80" in message


def test_suffix_that_makes_the_name_too_long_is_refused_at_registration():
    with pytest.raises(InvalidQueueName, match="81 characters"):
        register("a" * 70, suffixes=("s" * 6,))


@pytest.mark.parametrize("name, bad", [("thumb nails", "' '"), ("thumbs!", "'!'"), ("naïve", "'ï'"), ("a/b", "'/'")])
def test_bad_characters_are_refused_naming_the_name_and_the_character(name, bad):
    with pytest.raises(InvalidQueueName) as excinfo:
        register(name)
    message = str(excinfo.value)
    assert repr(name) in message
    assert bad in message
    assert "letters, digits, '-' and '_'" in message


def test_fifo_in_the_middle_is_refused():
    with pytest.raises(InvalidQueueName) as excinfo:
        register("orders.fifo.eu")
    assert "'orders.fifo.eu'" in str(excinfo.value)
    assert "'.fifo' is allowed only at the very end" in str(excinfo.value)


def test_dots_are_refused_in_a_name():
    with pytest.raises(InvalidQueueName, match=r"'\.'"):
        register("shop.tasks")


def test_invalid_suffix_is_refused_at_registration():
    with pytest.raises(InvalidQueueName, match=r"suffix 'eu.west' is invalid"):
        register("orders", suffixes=("eu.west",))
    with pytest.raises(InvalidQueueName, match=r"suffix 'x.fifo' is invalid"):
        register("orders.fifo", suffixes=("x.fifo",))


def test_invalid_suffix_is_refused_when_sending_too():
    rq = register("orders")
    with pytest.raises(InvalidQueueName, match="suffix 'a b'"):
        rq.full_name("a b")


def test_non_string_name_is_refused():
    with pytest.raises(InvalidQueueName, match="not a string"):
        register(42)


def test_invalid_queue_name_is_a_configuration_error():
    # ImproperlyConfigured: Django shows it as a configuration problem at start-up.
    from django.core.exceptions import ImproperlyConfigured

    assert issubclass(InvalidQueueName, ConfigurationError)
    assert issubclass(InvalidQueueName, ImproperlyConfigured)


def test_broken_prefix_is_left_to_the_system_checks(settings):
    # Registration must not crash on a bad prefix, or manage.py check could never report it.
    settings.SQS_QUEUE_PREFIX = 5
    assert register("fine").name == "fine"
    settings.SQS_QUEUE_PREFIX = "dev.fifo"
    assert register("fine2").name == "fine2"


def test_name_problem():
    assert name_problem("ok-name_1") is None
    assert name_problem("ok.fifo") is None
    assert name_problem("") == "it is empty"
    assert name_problem(".fifo") == "it has nothing before '.fifo'"
    assert "81 characters" in name_problem("x" * 81)
