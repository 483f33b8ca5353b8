"""Configuration: keyword > OTEL_CONTEXT setting > OTEL_CONTEXT_* environment > default."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from otel_context import conf
from otel_context.conf import OPTIONS, ConfigurationError, build_config


def _cfg(
    overrides: dict[str, Any] | None = None,
    setting: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> conf.Config:
    return build_config(overrides or {}, setting or {}, environ or {})


class TestPrecedence:
    def test_defaults(self) -> None:
        """With nothing set, every option has its documented default."""
        config = _cfg()
        assert config.correlation_id_headers == ("Correlation-Id", "X-Request-ID")
        assert config.user_id_field == "pk"
        assert config.url_kwargs["project_pk"] == "project.id"
        assert config.trust_upstream_identifiers is False
        assert config.inbound_baggage_allow == ()

    def test_keyword_beats_setting_beats_environment(self) -> None:
        """The same option from three sources: the keyword wins, then the setting."""
        environ = {"OTEL_CONTEXT_USER_ID_FIELD": "env"}
        assert _cfg(environ=environ).user_id_field == "env"
        assert _cfg(setting={"USER_ID_FIELD": "set"}, environ=environ).user_id_field == "set"
        both = _cfg({"user_id_field": "kw"}, {"USER_ID_FIELD": "set"}, environ)
        assert both.user_id_field == "kw"

    def test_empty_environment_value_means_unset(self) -> None:
        """OTel spec: an empty variable is as if unset."""
        assert _cfg(environ={"OTEL_CONTEXT_USER_ID_FIELD": " "}).user_id_field == "pk"

    def test_every_option_reads_its_environment_variable(self) -> None:
        """Each option's env var name is OTEL_CONTEXT_<NAME>."""
        assert {option.env_var for option in OPTIONS} == {
            "OTEL_CONTEXT_" + option.name for option in OPTIONS
        }


class TestEnvironmentParsing:
    @pytest.mark.parametrize(
        ("name", "raw", "attr", "expected"),
        [
            ("TRUST_UPSTREAM_IDENTIFIERS", "TRUE", "trust_upstream_identifiers", True),
            ("TRUST_UPSTREAM_IDENTIFIERS", "yes", "trust_upstream_identifiers", False),
            ("TRUST_UPSTREAM_IDENTIFIERS", "1", "trust_upstream_identifiers", False),
            ("SPAN_ATTRIBUTES", "false", "span_attributes", False),
            (
                "CORRELATION_ID_HEADERS",
                "X-Req, X-Other",
                "correlation_id_headers",
                ("X-Req", "X-Other"),
            ),
            ("INBOUND_BAGGAGE_MAX_ENTRIES", "3", "inbound_baggage_max_entries", 3),
            ("UNSAMPLED_LOG_RATIO", "0.05", "unsampled_log_ratio", 0.05),
            ("UNSAMPLED_LOG_RATIO", "0", "unsampled_log_ratio", 0.0),
            ("UNSAMPLED_LOG_LEVEL", "error", "unsampled_log_level", 40),
            ("UNSAMPLED_LOG_LEVEL", "25", "unsampled_log_level", 25),
            (
                "INBOUND_BAGGAGE_ALLOW",
                "amplitude.,ab*",
                "inbound_baggage_allow",
                ("amplitude.", "ab*"),
            ),
            ("URL_KWARGS", "team_pk=team.id", "url_kwargs", {"team_pk": "team.id"}),
            (
                "TRUSTED_NETWORKS",
                "10.0.0.0/8,::1",
                "trusted_networks",
                (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1")),
            ),
        ],
    )
    def test_values(self, name: str, raw: str, attr: str, expected: object) -> None:
        """Environment strings parse as the spec says (booleans: only 'true', any case)."""
        assert getattr(_cfg(environ={"OTEL_CONTEXT_" + name: raw}), attr) == expected

    def test_url_kwarg_lookup_from_environment(self) -> None:
        """'lookup:dotted.path' in the env form names a lookup callable."""
        config = _cfg(
            environ={
                "OTEL_CONTEXT_URL_KWARGS": "k=lookup:tests.testapp.identifiers.environment_by_key"
            }
        )
        rule = config.url_kwargs["k"]
        assert callable(rule)
        assert rule("env-1") == {"environment.id": "1", "project.id": "p-1"}


class TestDerivedKeys:
    def test_application_keys_are_server_owned(self) -> None:
        """Keys from URL_KWARGS and RESOLVERS are server-owned: clients cannot set them."""
        config = _cfg(
            setting={
                "URL_KWARGS": {"team_pk": "team__id"},
                "RESOLVERS": {"tenant__id": "tests.testapp.identifiers.tenant_from_header"},
            }
        )
        assert {"team.id", "tenant.id", "user.id"} <= config.server_owned
        assert config.url_kwargs == {"team_pk": "team.id"}


class TestResolverPrecedence:
    RESOLVER = "tests.testapp.identifiers.tenant_from_header"

    def test_resolvers_lose_to_the_url_unless_over_url(self) -> None:
        """Plain entries and over_url=False lose to the URL; over_url=True beats it."""
        config = _cfg(
            setting={
                "RESOLVERS": {
                    "tenant.id": self.RESOLVER,
                    "organisation__id": {"resolver": self.RESOLVER, "over_url": True},
                    "project.id": {"resolver": self.RESOLVER, "over_url": False},
                }
            }
        )
        assert set(config.resolvers) == {"tenant.id", "organisation.id", "project.id"}
        assert config.resolvers.over_url == frozenset({"organisation.id"})
        assert callable(config.resolvers["organisation.id"])

    def test_environment_form(self) -> None:
        """In the environment an over_url: prefix on the dotted path says the same."""
        value = f"a.id=over_url:{self.RESOLVER},b.id={self.RESOLVER}"
        config = _cfg(environ={"OTEL_CONTEXT_RESOLVERS": value})
        assert config.resolvers.over_url == frozenset({"a.id"})
        assert set(config.resolvers) == {"a.id", "b.id"}

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ({"resolver": RESOLVER, "overurl": True}, "did you mean: overurl -> over_url?"),
            ({"over_url": True}, "expected keys resolver and over_url"),
            ({"resolver": RESOLVER, "over_url": 1}, "['over_url']: expected a boolean"),
            ({"resolver": 5}, "['resolver']: expected a callable"),
        ],
    )
    def test_bad_entries_name_the_key(self, spec: dict[str, Any], message: str) -> None:
        """A bad per-resolver dict raises ConfigurationError naming the entry, with a hint."""
        with pytest.raises(ConfigurationError) as info:
            _cfg(setting={"RESOLVERS": {"x.id": spec}})
        assert "OTEL_CONTEXT['RESOLVERS']['x.id']" in str(info.value)
        assert message in str(info.value)


class TestErrors:
    @pytest.mark.parametrize(
        ("setting", "message"),
        [
            ({"USER_ID_FEILD": "pk"}, "unknown option USER_ID_FEILD (did you mean USER_ID_FIELD?)"),
            ({"CORRELATION_ID_HEADERS": []}, "needs at least one header name"),
            ({"CORRELATION_ID_HEADERS": "X-A"}, None),
            ({"INBOUND_BAGGAGE_MAX_ENTRIES": -1}, "must not be negative"),
            ({"INBOUND_BAGGAGE_MAX_ENTRIES": "many"}, "expected a whole number"),
            ({"INBOUND_BAGGAGE_MAX_ENTRIES": True}, "expected a whole number"),
            ({"SPAN_ATTRIBUTES": 1}, "expected a boolean"),
            ({"RESOLVERS": {"x.id": "no.such.module.func"}}, "cannot import 'no.such.module.func'"),
            ({"RESOLVERS": {"x.id": "tests.testapp.identifiers.CALLS"}}, "is not callable"),
            ({"RESOLVERS": ["x"]}, "expected a mapping"),
            ({"URL_KWARGS": {"k": 3}}, "expected an attribute name"),
            ({"TRUSTED_NETWORKS": ["10.0.0.0/33"]}, "TRUSTED_NETWORKS"),
            ({"CORRELATION_ID_GENERATOR": 5}, "expected a callable"),
            ({"INBOUND_BAGGAGE_ALLOW": [1]}, "expected a list of strings"),
            ({"USER_ID_FIELD": 5}, "expected a string"),
            ({"UNSAMPLED_LOG_RATIO": 1.5}, "expected a ratio in [0, 1]"),
            ({"UNSAMPLED_LOG_RATIO": "half"}, "expected a ratio in [0, 1]"),
            ({"UNSAMPLED_LOG_RATIO": "nan"}, "expected a ratio in [0, 1]"),
            ({"UNSAMPLED_LOG_RATIO": True}, "expected a ratio in [0, 1]"),
            ({"UNSAMPLED_LOG_LEVEL": "LOUD"}, "expected a logging level"),
            ({"UNSAMPLED_LOG_LEVEL": -1}, "must not be negative"),
        ],
    )
    def test_clear_error_naming_the_option(
        self, setting: dict[str, Any], message: str | None
    ) -> None:
        """A bad value raises ConfigurationError that names the option; valid ones don't."""
        if message is None:
            assert _cfg(setting=setting).correlation_id_headers == ("X-A",)
            return
        with pytest.raises(ConfigurationError) as info:
            _cfg(setting=setting)
        assert message in str(info.value)

    def test_every_problem_reported_not_only_the_first(self) -> None:
        """Several bad options: one problem each, in one error (E002 lists them one by one)."""
        setting = {
            "CORRELATION_ID_HEADER": "X",
            "USER_ID_FEILD": "pk",
            "SPAN_ATTRIBUTES": 1,
            "URL_KWARGS": ["pk"],
        }
        with pytest.raises(ConfigurationError) as info:
            _cfg(setting=setting)
        assert info.value.problems == (
            (
                "OTEL_CONTEXT: unknown option CORRELATION_ID_HEADER"
                " (did you mean CORRELATION_ID_HEADERS?)"
            ),
            "OTEL_CONTEXT: unknown option USER_ID_FEILD (did you mean USER_ID_FIELD?)",
            "OTEL_CONTEXT['URL_KWARGS']: expected a mapping with string keys, got ['pk']",
            "OTEL_CONTEXT['SPAN_ATTRIBUTES']: expected a boolean, got 1",
        )
        assert str(info.value) == "; ".join(info.value.problems)
        assert conf.problems(setting=setting, environ={}) == list(info.value.problems)

    def test_no_problems_on_a_valid_configuration(self) -> None:
        """problems() is empty when build_config() would succeed."""
        assert conf.problems(setting={"USER_ID_FIELD": "uuid"}, environ={}) == []

    def test_a_resolver_module_that_raises_on_import(self) -> None:
        """Whatever a resolver's module raises while imported becomes a ConfigurationError."""
        path = "tests.testapp.broken_on_import.resolve"
        with pytest.raises(ConfigurationError) as info:
            _cfg(setting={"RESOLVERS": {"tenant.id": path}})
        assert str(info.value) == (
            f"OTEL_CONTEXT['RESOLVERS']['tenant.id']: cannot import {path!r}"
            " (RuntimeError: this module is broken on purpose)"
        )

    def test_odd_option_names_are_named(self) -> None:
        """A key that is no string is reported, not a TypeError."""
        assert conf.problems(setting={1: "x"}, environ={}) == ["OTEL_CONTEXT: unknown option 1"]

    def test_keyword_problems_name_the_keyword(self) -> None:
        """A bad instrument() keyword is reported as such, not as the setting."""
        assert conf.problems({"span_attributes": 2}, {}, {}) == [
            "span_attributes= (OTEL_CONTEXT['SPAN_ATTRIBUTES']): expected a boolean, got 2"
        ]

    def test_not_a_dict_is_one_problem(self, settings: Any) -> None:
        """OTEL_CONTEXT = 'x' gives one problem, not an exception, from problems()."""
        settings.OTEL_CONTEXT = "x"
        assert conf.problems(environ={}) == ["OTEL_CONTEXT must be a dict, got str"]

    def test_bad_environment_pairs(self) -> None:
        """A malformed key=value list in the environment names the variable."""
        with pytest.raises(ConfigurationError, match="OTEL_CONTEXT_RESOLVERS"):
            _cfg(environ={"OTEL_CONTEXT_RESOLVERS": "no-equals-sign"})

    def test_setting_must_be_a_dict(self, settings: Any) -> None:
        """OTEL_CONTEXT = 'x' is refused clearly."""
        settings.OTEL_CONTEXT = "x"
        with pytest.raises(ConfigurationError, match="must be a dict"):
            conf.get_config()


class TestCaching:
    def test_override_settings_is_picked_up(self, settings: Any) -> None:
        """Django's setting_changed signal resets the cached configuration."""
        assert conf.get_config().user_id_field == "pk"
        settings.OTEL_CONTEXT = {"USER_ID_FIELD": "username"}
        assert conf.get_config().user_id_field == "username"

    def test_configure_sets_keyword_overrides(self) -> None:
        """configure(**kw) (what instrument(**kw) calls) wins over the setting."""
        try:
            assert conf.configure(user_id_field="email").user_id_field == "email"
        finally:
            conf.configure()
        assert conf.get_config().user_id_field == "pk"


def test_get_config_raises_without_inner_frames(settings: Any) -> None:
    """A start-up that reads the configuration (a task worker) sees one frame of conf.py."""
    import traceback

    settings.OTEL_CONTEXT = {"SPAN_ATTRIBUTES": 1}
    with pytest.raises(ConfigurationError) as info:
        conf.get_config()
    frames = [frame.name for frame in traceback.extract_tb(info.tb)]
    assert frames[-1] == "get_config"
    assert "build_config" not in frames
    assert info.value.__suppress_context__
