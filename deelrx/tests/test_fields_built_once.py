"""deelrx.api.FieldsBuiltOnce: the same output and validation as DRF's own field building."""

import threading

from rest_framework import serializers

from deelrx.api import FieldsBuiltOnce


class Point:
    def __init__(self, x, label, tags):
        self.x, self.label, self.tags = x, label, tags


class Tag(serializers.Serializer):
    name = serializers.CharField()


class PlainPoint(serializers.Serializer):
    x = serializers.IntegerField(min_value=0, max_value=10)
    label = serializers.CharField(max_length=5)
    double = serializers.SerializerMethodField()
    tags = Tag(many=True, required=False)

    def get_double(self, point) -> int:
        return point.x * 2 * self.context.get("factor", 1)


class FastPoint(FieldsBuiltOnce, PlainPoint):
    pass


def test_output_is_the_same_as_drfs_every_time():
    points = [Point(i, f"p{i}", [{"name": "a"}, {"name": str(i)}]) for i in range(5)]
    for _ in range(3):
        assert FastPoint(points, many=True).data == PlainPoint(points, many=True).data
    assert FastPoint(points[2], context={"factor": 10}).data["double"] == 40


def test_validation_errors_are_per_instance():
    bad, good = FastPoint(data={"x": 11, "label": "toolong"}), FastPoint(data={"x": 3, "label": "ok"})
    plain = PlainPoint(data={"x": 11, "label": "toolong"})
    assert not bad.is_valid()
    assert not plain.is_valid()
    assert good.is_valid(), good.errors
    assert bad.errors == plain.errors
    assert good.validated_data == {"x": 3, "label": "ok"}


def test_instances_never_share_bound_fields():
    first, second = FastPoint(), FastPoint()
    for name in first.fields:
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first
    assert first.fields["tags"].child is not second.fields["tags"].child


def test_concurrent_serializers_each_see_their_own_context():
    results, errors = {}, []

    def render(factor: int) -> None:
        try:
            for _ in range(200):
                data = FastPoint(Point(1, "p", []), context={"factor": factor}).data
                assert data["double"] == 2 * factor
            results[factor] = True
        except AssertionError as exc:  # pragma: no cover - the failure this guards against
            errors.append(exc)

    threads = [threading.Thread(target=render, args=(factor,)) for factor in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 8
