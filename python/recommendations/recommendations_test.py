# The notes' unit test (recommendations/recommendations_test.py), unchanged
# (ruff sorts its imports).
from recommendations_pb2 import BookCategory, RecommendationRequest

from recommendations import RecommendationService


def test_recommendations():
    service = RecommendationService()
    request = RecommendationRequest(user_id=1, category=BookCategory.MYSTERY, max_results=1)
    response = service.Recommend(request, None)
    assert len(response.recommendations) == 1
